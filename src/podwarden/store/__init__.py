"""Layer 3: the state store (SQLite by default, PostgreSQL by URL) with optimistic versions."""
