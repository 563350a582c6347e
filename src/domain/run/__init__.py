"""Runs: recording, executing, following, cancelling and reconciling them."""
