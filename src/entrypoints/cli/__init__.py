"""The Cyclopts command line."""
