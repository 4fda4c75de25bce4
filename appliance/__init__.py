"""The daemon's world: movements, series, nights, the store. Knows sleep, not HTTP."""
