"""The Orbit webhook (``POST /api/orbit/events``): signature, envelope, idempotency.

* `signature`: Standard Webhooks verification and signing (reused by the launch endpoint).
* `media`: size, media type and encoding checks.
* `envelope`: CloudEvent + v1 schema parsing (400) and semantic checks (422).
* `idempotency`: the webhook-id claim and the original 202 result.
* `handler`: `accept_delivery`, the plain function the HTTP trigger calls.

The published JSON Schema and OpenAPI document and the example events are made
by ``docgen/`` (not deployed).
"""
