"""The Orbit webhook (``POST /api/orbit/events``): signature, envelope, idempotency.

* `signature`: Standard Webhooks verification and signing (reused by the launch endpoint).
* `media`: size, media type and encoding checks.
* `envelope`: CloudEvent + v1 schema parsing (400) and semantic checks (422).
* `idempotency`: webhook-id → the original 202 result.
* `handler`: `accept_delivery`, the plain function the HTTP trigger calls.
* `examples`: synthetic example events and the handler's answers to crafted deliveries.
* `contract`: generates the published JSON Schema and OpenAPI document.
"""
