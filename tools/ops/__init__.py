"""``.venv/bin/python -m tools.ops``: where is booking X, and the dead-letter tools.

Works against whatever the settings select: the local run's data folder
(``LOCAL_DATA_DIR``: ``queue.sqlite3`` and ``crosswalk.sqlite3``) or, with
``QUEUE_BACKEND=servicebus`` and ``CROSSWALK_BACKEND=table``, the Azure stamp,
signed in as the operator (``az login``). See docs/operations.md.
"""
