"""``GET /api/health`` on the local run (``make run`` serves the same function app)."""

from __future__ import annotations

import httpx

from localrun.app import LocalRun


def test_the_local_run_answers_its_health(local_run: LocalRun) -> None:
    response = httpx.get(f"{local_run.base_url}/api/health")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    checks = document["checks"]
    assert checks["queue"] == {"status": "ok", "backend": "embedded"}
    assert checks["crosswalk"] == {"status": "ok", "backend": "sqlite"}
    assert checks["millennium"]["status"] == "ok"  # the simulator on loopback
    assert checks["settings"]["ORBIT_WEBHOOK_SECRETS"] == "configured"
    assert document["status"] in {"ok", "degraded"}
