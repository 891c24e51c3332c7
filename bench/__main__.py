"""`make bench`: every benchmark, figures written to docs/performance.md (cost: docs/cost.md)."""

from __future__ import annotations

from bench import cost, hl7_render, import_time, launch, link, pipeline, telemetry


def main() -> None:
    import_time.main(["--write"])
    hl7_render.main([])
    pipeline.main(["--write"])
    link.main(["--write"])
    launch.main(["--write"])
    telemetry.main(["--write"])
    cost.main(["--write"])  # docs/cost.md; the growth table: python -m bench.cost --growth …


if __name__ == "__main__":
    main()
