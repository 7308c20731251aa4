"""Goodput under failure: run a scenario through the real recovery pipeline (issue #12)."""
