"""What a booking change costs in Azure: counted in the local run, priced from data.

* `counters`: wrappers around the table store, the queue, the link's lease store
  and the functions that count what Azure bills (docs/cost.md).
* `prices`: the price sheet (``bench/prices/*.json``), every figure with its
  unit, currency, source and the date it was read.
* `stamps`: what each administration's stamp deploys (``infra/params``).
* `estimate`: counts per booking change + prices + volumes → a monthly estimate.

Benchmark code only: nothing here is deployed.
"""
