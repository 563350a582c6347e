"""Port contract checks, run against fakes (unit) and real adapters (integration)."""
