"""The local runtime: the agent's environment contract, isolation, and the concurrency limit."""
from __future__ import annotations

import sys

import psutil

from aideator.runtimes import sandbox
from helpers import REPO, ROOT, Server, start_run, wait_for
from sse_client import read_events

SECRET = "sk-ant-test-SECRET-0123456789"


def test_agents_get_the_contract_and_only_the_allowed_server_variables(tmp_path):
    server = Server(tmp_path / "data",
                    agent_command=f"{sys.executable} {ROOT / 'tests/fixtures/env_agent.py'}")
    server.env.update({"ANTHROPIC_API_KEY": SECRET, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                       "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                       "GIT_CONFIG_COUNT": "1", "DATABASE_PASSWORD": "hunter2",
                       "AWS_SECRET_ACCESS_KEY": "nope"})
    server.start()
    try:
        prompt = "Refactor: it's \"quoted\" $(rm -rf /) `id` ; --- {{x}}\nsecond line ü"
        run = start_run(server, prompt, 2, github_url=REPO + ".git",
                        agent_config={"temperature": 0.3})
        events = read_events(server.base + run["stream_url"])
        reports = {e.data["variation_id"]: e.data["content"] for e in events
                   if e.event == "agent_output" and e.data["type"] == "env"}
        assert set(reports) == {0, 1}
        for i, report in reports.items():
            names = set(report["names"])
            assert {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "GIT_CONFIG_COUNT"} <= names
            # The model and git settings are the gateway's, not the server's own: the
            # key stays in the service (the gateway's upstream).
            values = report["values"]
            # Sandboxed: the gateway on the sandbox's own loopback, bridged to the service.
            assert values["ANTHROPIC_BASE_URL"] == \
                f"http://127.0.0.1:{sandbox.BRIDGE_PORT}/gateway/anthropic"
            assert values["ANTHROPIC_API_KEY"] not in ("", SECRET)
            assert values["GIT_CONFIG_COUNT"] == "2"
            assert not names & {"DATABASE_PASSWORD", "AWS_SECRET_ACCESS_KEY"}
            assert not [n for n in names if n.startswith("AIDEATOR_")]
            values = report["values"]
            assert values["PROMPT"] == prompt          # byte-identical, no shell involved
            assert values["REPO_URL"] == REPO + ".git"
            assert values["RUN_ID"] == run["run_id"] and values["VARIATION_ID"] == str(i)
            assert values["MODEL"] == "claude-sonnet-4-5" and values["TEMPERATURE"] == "0.3"
            variation_dir = tmp_path / "data" / "runs" / run["run_id"] / str(i)
            assert values["WORKSPACE"] == str(variation_dir / "workspace")
            assert values["HOME"] == str(variation_dir / "home")
            assert report["cwd"] == str(variation_dir)
        # The key reached no agent, no event and no response.
        assert SECRET not in "".join(e.raw.decode() for e in events)
        assert SECRET not in server.get(f"/runs/{run['run_id']}").text
    finally:
        server.stop()


def test_output_is_kept_in_a_log_file_per_variation(server):
    run = start_run(server, "lines=3 stderr=1", 2)
    read_events(server.base + run["stream_url"])
    for i in range(2):
        log = (server.data_dir / "runs" / run["run_id"] / str(i) / "output.log").read_text()
        assert f"warning from variation {i}" in log and '"n": 2' in log


def test_the_concurrency_limit_queues_variations_in_order(make_server):
    server = make_server(max_concurrent_variations="2")
    run = start_run(server, "lines=10 delay=0.03", 5)
    events = read_events(server.base + run["stream_url"])
    running, most, started = set(), 0, []
    for e in events:
        if e.event == "status" and e.data.get("status") == "running" and "variation_id" in e.data:
            running.add(e.data["variation_id"])
            started.append(e.data["variation_id"])
            most = max(most, len(running))
        elif e.event in ("job_completed", "error"):
            running.discard(e.data["variation_id"])
    assert most == 2
    # Slots are handed out first come, first served; two freed at once may start in
    # either order.
    assert sorted(started) == [0, 1, 2, 3, 4] and set(started[:2]) == {0, 1}
    queued = {e.data["variation_id"] for e in events
              if e.event == "status" and e.data.get("status") == "queued"}
    assert queued == {2, 3, 4}
    assert events[-1].data["status"] == "completed"


def test_finished_agents_are_reaped_not_left_as_zombies(server):
    run = start_run(server, "lines=2", 3)
    read_events(server.base + run["stream_url"])
    detail = server.get(f"/runs/{run['run_id']}").json()
    for v in detail["variations"]:
        pid = int(v["pod"].rsplit("-p", 1)[1])
        wait_for(lambda pid=pid: not psutil.pid_exists(pid), timeout=5)


def test_a_missing_agent_command_is_a_clear_failure(make_server):
    server = make_server(agent_command="/nonexistent/agent --flag")
    run = start_run(server, "x", 1)
    events = read_events(server.base + run["stream_url"])
    output = [e.data["content"] for e in events if e.event == "agent_output"]
    assert len(output) == 1 and "/nonexistent/agent: not found" in output[0]
    assert [e.data["error"] for e in events if e.event == "error"] == [
        "the agent exited with code 127"]
    assert events[-1].data["status"] == "failed"
