"""Retention: the scheduled clean-up that keeps tables from growing without bound.

Start with ``cleanup.clean_up`` (the handler); ``policy`` holds the ages and why,
``sweeps`` what each kind of row is and how old it may get, ``cursors`` where each
sweep resumes, ``report`` what a run did (log line and metrics, no personal data).
See docs/operations.md, "Retention".
"""
