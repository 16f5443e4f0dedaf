"""Iterating on a variation through the sandboxed local runtime (real bwrap, real socat,
a real gunicorn server): each agent of the child run reads the parent's change from the
file ``BASE_PATCH_FILE`` names, bound read-only inside its sandbox, outside its clone;
the change (over the 128 KiB one environment variable may hold) is in no variable and in
no diff; the run's file goes when the run is deleted.

The agent is tests/fixtures/git_agent.py (it clones through the gateway's bridge and
starts from the change with the real agent's step, agent/base_change.py).
"""
from __future__ import annotations

import json
import sys

from helpers import ROOT, Server
from sse_client import read_events
from tests.fake_github import FakeGitHub

GIT_AGENT = ROOT / "tests" / "fixtures" / "git_agent.py"
URL = "https://github.com/acme/widgets"


def outputs(events, kind: str) -> dict[int, dict]:
    return {e.data["variation_id"]: e.data["content"] for e in events
            if e.event == "agent_output" and e.data["type"] == kind}


def test_a_sandboxed_child_reads_the_parents_change_from_its_read_only_file(tmp_path):
    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"keep.txt": "one\n", "logo.bin": "not yet binary\n"})
    data = tmp_path / "data"
    server = Server(data, github_url=github.start(),
                    agent_command=f"{sys.executable} {GIT_AGENT}")
    server.start()
    try:
        assert server.get("/health").json()["sandbox"] == "bubblewrap"
        parent = server.post("/runs", {"github_url": URL, "variations": 1,
                                       "prompt": "big=src/big.txt add=src/new.py "
                                                 "bin=logo.bin"}).json()
        events = read_events(server.base + parent["stream_url"], timeout=60)
        assert events[-1].data["status"] == "completed", events[-1].data
        change = server.get(f"/runs/{parent['run_id']}/variations/0/diff").json()["patch"]
        assert len(change.encode()) > 128 * 1024

        resp = server.post("/runs", {
            "github_url": URL, "variations": 2,
            "from": {"run_id": parent["run_id"], "variation_id": 0},
            "prompt": "v0.edit=src/new.py v0.tamper=1 v1.del=src/big.txt v1.edit=logo.bin"})
        assert resp.status_code == 202, resp.text
        child = resp.json()
        events = read_events(server.base + child["stream_url"], timeout=60)
        assert events[-1].data["status"] == "completed", events[-1].data

        # Inside the sandbox, at the path it was told, the whole change, read-only.
        (tampered,) = outputs(events, "change_file").values()
        assert {k: tampered[k] for k in ("path", "bytes", "write_error")} == {
            "path": "/run/aideator-change/base.patch", "bytes": len(change.encode()),
            "write_error": "Read-only file system"}
        for env in outputs(events, "env").values():
            environ = env["environ"]
            assert environ["BASE_PATCH_FILE"] == "/run/aideator-change/base.patch"
            assert "BASE_PATCH" not in environ
            assert "src/big.txt line 00100" not in json.dumps(environ)

        # Each variation started from the parent's change; its diff is the new work only.
        first = server.get(f"/runs/{child['run_id']}/variations/0/diff").json()
        assert first["files"] == ["src/new.py"]
        assert " added by variation 0\n+edited by variation 0\n" in first["patch"]
        second = server.get(f"/runs/{child['run_id']}/variations/1/diff").json()
        assert second["files"] == ["logo.bin", "src/big.txt"]
        assert "-variation 0 src/big.txt line 02549 " in second["patch"]
        assert "base.patch" not in first["patch"] + second["patch"]

        # On the host: once for the run, beside its variations' directories, as stored.
        run_dir = data / "runs" / child["run_id"]
        assert (run_dir / "base.patch").read_bytes() == change.encode()
        assert sorted(p.name for p in run_dir.iterdir()) == ["0", "1", "base.patch"]
        assert server.delete(f"/runs/{child['run_id']}").status_code == 204
        assert not run_dir.exists()
    finally:
        server.stop()
        github.stop()
