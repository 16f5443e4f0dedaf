"""Retention with three replicas on one PostgreSQL database: every replica runs the
retention pass, and each expired run is deleted exactly once, files included."""
from __future__ import annotations

from helpers import start_run, wait_for
from prom import scrape
from sse_client import read_events

RUNS = 12


def test_three_replicas_delete_each_expired_run_once(replicas, postgres, pg_url, tmp_path):
    servers = replicas(3, retention_days="1", retention_check_seconds="0.1")
    runs = [start_run(servers[i % 3], "lines=2")["run_id"] for i in range(RUNS)]
    for i, run_id in enumerate(runs):
        stream = servers[(i + 1) % 3].base + f"/api/v1/runs/{run_id}/stream"
        assert read_events(stream, timeout=30)[-1].event == "run_finished"
    workspaces = tmp_path / "data" / "runs"
    assert all((workspaces / run_id).is_dir() for run_id in runs)
    # A day later, for the database: every run has expired at once, and the three replicas'
    # passes (every 0.1 s each) race for them.
    postgres.execute(pg_url, "UPDATE run SET finished_at = finished_at - interval '2 days'")
    wait_for(lambda: postgres.execute(pg_url, "SELECT count(*) FROM run")[0][0] == 0,
             timeout=20)
    for table in ("variation", "eventbatch", "variationusage", "selection"):
        assert postgres.execute(pg_url, f"SELECT count(*) FROM {table}")[0][0] == 0, table
    wait_for(lambda: not any((workspaces / run_id).exists() for run_id in runs))
    assert servers[0].get(f"/runs/{runs[0]}").status_code == 404

    # Each run was deleted by one replica: its log says so once, and the sum of the
    # replicas' counters is the number of runs.
    logs = [server.log_path.read_text() for server in servers]
    for run_id in runs:
        assert sum(log.count(f"deleted run {run_id} (retention)") for log in logs) == 1
    deleted = [scrape(s.metrics_base).value("aideator_runs_deleted_total", reason="retention")
               for s in servers]
    assert sum(deleted) == RUNS, deleted
