"""The PostgreSQL driver never blocks a worker's gevent hub: a slow query holds up only
its own greenlet, while timers (heartbeats, streams) and other queries go on."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import ROOT

PROBE = [str(ROOT / "tests" / "replicas" / "green_probe.py")]


def probe(url: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *PROBE, url], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_a_slow_query_does_not_stall_other_greenlets(pg_url):
    result = probe(pg_url)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["during_slow"], "the quick queries must run while pg_sleep still sleeps"
    assert max(figures["quick"]) < 0.25
    assert figures["max_gap"] < 0.25   # the 10 ms timer never waited for pg_sleep(1.5)


def test_the_service_refuses_a_driver_that_would_block_the_hub(pg_url):
    # psycopg's C wait function ignores gevent: what it would pick if imported unpatched.
    result = probe(pg_url, PSYCOPG_WAIT_FUNC="wait_c")
    assert result.returncode != 0
    assert "psycopg was imported before gevent patched" in result.stderr
