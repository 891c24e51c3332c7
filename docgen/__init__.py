"""What the documentation and the tests are made from; never deployed.

* ``webhook_contract`` — the JSON Schema and OpenAPI of the webhook contract
  (``python -m docgen.webhook_contract`` writes ``docs/contract/``).
* ``webhook_examples`` — the contract's example events (synthetic patients).
* ``hl7_examples`` — the example messages of ``docs/hl7-mapping.md``
  (``python -m docgen.hl7_examples --write docs/hl7-mapping.md``).
* ``hl7_validate`` — strict validation of our HL7 with hl7apy (tests, benchmarks).

The deployed package (``function_app.py``, ``functions/``, ``shared/``,
``profiles/``) imports none of it; ``tests/unit/test_function_app.py`` checks.
"""
