"""Layer 2: pure decisions, (desired, observed) -> actions. No I/O and no clock: callers pass
``now``."""
