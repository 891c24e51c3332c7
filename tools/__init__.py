"""Command-line tools for operators (run with ``python -m tools.<name>``)."""
