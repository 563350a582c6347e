"""Ports: the Protocols the domain needs and the plain values that cross them (stdlib only)."""
