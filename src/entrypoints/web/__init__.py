"""The web console (SPEC section 12): server-rendered pages over the same use cases as the API."""
