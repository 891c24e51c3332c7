"""The crosswalk: Orbit–Millennium identifiers and sync state, in tables."""
