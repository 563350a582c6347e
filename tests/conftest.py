"""Shared fixtures: fakes of every port, from flwd.adapters.fakes."""
