"""Thin triggers, one blueprint module per trigger family (registered by function_app.py)."""
