"""flwd: typed-argument jobs in hardened, rootless containers."""
