"""Cluster mode's worker liveness (SPEC section 11): heartbeats, the lost-run sweep, and the
removal of containers a returning worker no longer owns."""
