"""Command-line interface: the composition root (nothing imports it)."""
