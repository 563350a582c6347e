"""The domain: job specs, the argument contract, profiles and policy, plans and runs."""
