"""Operators' dead-letter tools: list, show, resubmit and purge, on either queue.

``port.DeadLetterStore`` is what the tools need; ``embedded`` serves it from the
local run's SQLite queue and ``servicebus`` from Azure Service Bus (the
``dead-letters`` queue and every queue's native dead-letter sub-queue).
``resubmit`` says what a resubmitted message looks like, and ``operations`` holds
the commands the CLI (``python -m tools.ops deadletters``) runs.
"""
