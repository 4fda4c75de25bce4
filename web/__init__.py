"""The dashboard (read-only on the store)."""
