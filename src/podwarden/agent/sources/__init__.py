"""Fault sources: I/O only, each turns what it reads into ``logic.faults.Signal`` values."""
