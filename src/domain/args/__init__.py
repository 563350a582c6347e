"""The argument contract: checking typed arguments and delivering them into a container."""
