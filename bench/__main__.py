"""`make bench`: every benchmark, figures written to docs/performance.md."""

from __future__ import annotations

from bench import hl7_render, import_time, launch, link, pipeline, telemetry


def main() -> None:
    import_time.main(["--write"])
    hl7_render.main([])
    pipeline.main(["--write"])
    link.main(["--write"])
    launch.main(["--write"])
    telemetry.main(["--write"])


if __name__ == "__main__":
    main()
