"""Security profiles and the operator's policy bundle: what a run may do."""
