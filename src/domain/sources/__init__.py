"""Sources (SPEC section 10): OCI add-ons added by name, pinned by digest, merged into the catalog."""
