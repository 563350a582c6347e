"""Entrypoints: the DI container, the CLI and the HTTP API."""
