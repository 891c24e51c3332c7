"""Operators' views: the per-booking trace and the key that guards it."""
