"""Adapters: one module per outside thing (YAML, Podman, Docker, filesystem, SQLite), plus fakes."""
