"""Layer 0: domain types, ids and errors. Imports nothing of podwarden and does no I/O."""
