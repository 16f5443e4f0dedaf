"""A local repository as a run's source (``repo_path``), through a real gunicorn server with
the sandboxed local runtime (real bwrap) and a stand-in agent that really clones
(tests/fixtures/git_agent.py): the snapshot reaches each agent read-only, the person's
repository is never written, and every refusal is a 4xx with nothing stored."""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from helpers import ROOT, Server, git, new_repo
from sse_client import read_events

GIT_AGENT = ROOT / "tests" / "fixtures" / "git_agent.py"



def make_repo(path: Path) -> Path:
    return new_repo(path, {"calc.py": "def add(a, b):\n    return a - b\n",
                           ".gitignore": "*.log\n"})


def state(repo: Path) -> dict:
    """Everything of the repository a snapshot must leave as it was."""
    files = {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
             if p.is_file()}
    return {"files": files, "status": git(repo, "status", "--porcelain", "-uall"),
            "refs": git(repo, "for-each-ref"), "objects": git(repo, "count-objects")}


@pytest.fixture
def person(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "widgets")
    # Their work in progress: a change to a tracked file, a new file, an ignored one, and
    # something staged.
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b  # hmm\n")
    (repo / "notes.txt").write_text("my own notes\n")
    (repo / "debug.log").write_text("ignored\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    return repo


@pytest.fixture
def local_server(tmp_path: Path):
    server = Server(tmp_path / "data", agent_command=f"{sys.executable} {GIT_AGENT}")
    server.start()
    yield server
    server.stop()


def test_agents_clone_a_read_only_snapshot_and_never_touch_the_persons_repository(
        local_server: Server, person: Path, tmp_path: Path):
    before = state(person)
    head = git(person, "rev-parse", "HEAD").strip()
    resp = local_server.post("/runs", {
        "repo_path": str(person), "include_uncommitted": True, "variations": 2,
        "prompt": f"probe={person}/calc.py v0.edit=calc.py v1.add=src/new.py"})
    assert resp.status_code == 202, resp.text
    run = resp.json()
    events = read_events(local_server.base + run["stream_url"], timeout=60)
    assert events[-1].data["status"] == "completed", events[-1].data

    detail = local_server.get(f"/runs/{run['run_id']}").json()
    source = detail["source"]
    assert source["path"] == str(person) and source["head"] == head
    assert source["include_uncommitted"] is True and source["commit"] != head
    assert detail["github_url"] == f"file://{person}"
    # Each agent started from what the person sees (uncommitted and untracked files in,
    # ignored ones out), and its diff is against that.
    assert detail["base_commit"] == source["commit"]
    first = local_server.get(f"/runs/{run['run_id']}/variations/0/diff").json()
    assert first["files"] == ["calc.py"]
    assert " a - b  # hmm\n+edited by variation 0\n" in first["patch"]
    envs = [e.data["content"]["environ"] for e in events
            if e.event == "agent_output" and e.data["type"] == "env"]
    assert {env["REPO_URL"] for env in envs} == {"/run/aideator-source/source.bundle"}

    # The probe: the person's directory is not in the sandbox at all, and the snapshot is
    # read-only there.
    probes = [e.data["content"] for e in events
              if e.event == "agent_output" and e.data["type"] == "probe"]
    assert len(probes) == 4
    for probe in probes:
        if probe["path"].startswith(str(person)):
            assert probe["exists"] is False and probe["write_error"]
        else:
            assert probe["exists"] is True
            assert probe["write_error"] in ("Read-only file system", "Permission denied")
    assert state(person) == before

    # The patch works as for a GitHub run; a pull request is not offered (no GitHub remote).
    mail = local_server.get(f"/runs/{run['run_id']}/variations/0/patch")
    assert mail.status_code == 200 and "+edited by variation 0" in mail.text
    refused_pr = local_server.post(f"/runs/{run['run_id']}/variations/0/pull-request", {})
    assert refused_pr.status_code == 409, refused_pr.text
    assert refused_pr.json()["error"] == "not_on_github"

    # The snapshot is kept with the run and goes with it.
    bundle = local_server.data_dir / "runs" / run["run_id"] / "source.bundle"
    assert bundle.stat().st_size == source["bytes"]
    assert b"tampered" not in bundle.read_bytes()
    assert local_server.delete(f"/runs/{run['run_id']}").status_code == 204
    assert not bundle.exists()


def test_iterating_on_a_local_run_starts_from_its_snapshot(local_server: Server,
                                                           person: Path):
    parent = local_server.post("/runs", {"repo_path": str(person), "variations": 1,
                                         "include_uncommitted": True,
                                         "prompt": "add=one.txt"}).json()
    read_events(local_server.base + parent["stream_url"], timeout=60)
    # The person went on editing: the child still starts from the parent's snapshot.
    (person / "calc.py").write_text("changed again\n")
    resp = local_server.post("/runs", {"repo_path": str(person), "variations": 1,
                                       "from": {"run_id": parent["run_id"],
                                                "variation_id": 0},
                                       "prompt": "edit=one.txt"})
    assert resp.status_code == 202, resp.text
    child = resp.json()
    events = read_events(local_server.base + child["stream_url"], timeout=60)
    assert events[-1].data["status"] == "completed", events[-1].data
    diff = local_server.get(f"/runs/{child['run_id']}/variations/0/diff").json()
    assert diff["files"] == ["one.txt"]
    assert "+edited by variation 0" in diff["patch"]


def refused(server: Server, body: dict, status: int, error: str) -> dict:
    runs_before = server.get("/runs").json()["runs"]
    resp = server.post("/runs", {"prompt": "add=x", "variations": 1, **body})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error
    assert server.get("/runs").json()["runs"] == runs_before
    runs_dir = server.data_dir / "runs"
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
    return resp.json()


def test_each_refusal_is_a_4xx_with_nothing_stored(local_server: Server, person: Path,
                                                   tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not a git repository" in refused(
        local_server, {"repo_path": str(plain)}, 422, "not_a_repository")["detail"]
    refused(local_server, {"repo_path": str(tmp_path / "missing")}, 422,
            "not_a_repository")
    refused(local_server, {"repo_path": "widgets"}, 422, "validation_error")
    refused(local_server, {"repo_path": str(person), "ref": "no-such-branch"}, 422,
            "unknown_ref")
    refused(local_server, {"repo_path": str(person), "ref": "--upload-pack=x"}, 422,
            "validation_error")
    refused(local_server, {"repo_path": str(person),
                           "github_url": "https://github.com/a/b"}, 422, "validation_error")
    refused(local_server, {}, 422, "validation_error")
    refused(local_server, {"github_url": "https://github.com/a/b", "ref": "main"}, 422,
            "validation_error")


def test_paths_outside_the_allowed_roots_and_oversized_repositories_are_refused(
        tmp_path: Path, person: Path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    inside = make_repo(allowed / "inside")
    (inside / "big.bin").write_bytes(os.urandom(2 * 2**20))   # incompressible
    git(inside, "add", "big.bin")
    git(inside, "commit", "-q", "-m", "big")
    server = Server(tmp_path / "data", agent_command=f"{sys.executable} {GIT_AGENT}",
                    local_repo_roots=str(allowed), local_repo_max_mb="1")
    server.start()
    try:
        refused(server, {"repo_path": str(person)}, 403, "forbidden")
        # A link inside the roots that leads outside them is outside.
        (allowed / "sneaky").symlink_to(person)
        refused(server, {"repo_path": str(allowed / "sneaky")}, 403, "forbidden")
        assert "over the limit of 1 MiB" in refused(
            server, {"repo_path": str(inside)}, 413, "too_large")["detail"]
    finally:
        server.stop()


def test_the_kubernetes_runtime_takes_no_local_source(app, client, person: Path):
    # The request is judged by the configured runtime before anything is looked at.
    service = app.extensions["aideator"]
    service.settings = dataclasses.replace(service.settings, runtime="kubernetes")
    resp = client.post("/api/v1/runs", json={"repo_path": str(person), "prompt": "x",
                                             "variations": 1})
    assert resp.status_code == 422, resp.text
    assert resp.json["error"] == "unsupported"
    assert client.get("/api/v1/runs").json["runs"] == []


def test_a_github_remote_makes_the_run_a_github_one_when_its_commit_is_github_s(
        local_server: Server, person: Path):
    git(person, "remote", "add", "origin", "git@github.com:Acme/widgets.git")
    (person / "src").mkdir()
    # A directory inside the repository names the repository.
    resp = local_server.post("/runs", {"repo_path": str(person / "src"),
                                       "variations": 1, "prompt": "add=x.txt"})
    assert resp.status_code == 202, resp.text
    detail = local_server.get(f"/runs/{resp.json()['run_id']}").json()
    assert detail["github_url"] == "https://github.com/Acme/widgets"
    assert detail["source"]["github_url"] == "https://github.com/Acme/widgets"
    assert detail["source"]["commit"] == detail["source"]["head"]
    assert detail["source"]["path"] == str(person)
    # With uncommitted changes the snapshot is no commit GitHub has.
    resp = local_server.post("/runs", {"repo_path": str(person), "variations": 1,
                                       "include_uncommitted": True, "prompt": "add=x.txt"})
    detail = local_server.get(f"/runs/{resp.json()['run_id']}").json()
    assert detail["github_url"] == f"file://{person}"


def test_the_real_agent_sets_up_checks_and_works_on_a_local_repository(tmp_path: Path,
                                                                       person: Path):
    # The real agent (hardened git, its clone step) with a fake model: the setup runs
    # once on the snapshot, every variation starts from its result, checks pass there.
    from tests.agent.fake_anthropic import FakeAnthropic, reply, text
    model = FakeAnthropic()
    base_url = model.start()
    model.scripts["default"] = [reply(text("Nothing to change."))]
    server = Server(tmp_path / "data")
    del server.env["AIDEATOR_AGENT_COMMAND"]          # the real default: python -m agent
    server.env.update({"ANTHROPIC_API_KEY": "sk-ant-test-local", "ANTHROPIC_BASE_URL": base_url,
                       "CLAUDE_CODE_MAX_RETRIES": "1"})
    server.start()
    try:
        resp = server.post("/runs", {
            "repo_path": str(person), "include_uncommitted": True, "variations": 2,
            "prompt": "Look around", "setup": "mkdir -p .venv && cp notes.txt .venv/ready",
            "checks": [{"name": "ready", "command": "test -f .venv/ready"}]})
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["run_id"]
        events = read_events(server.url(f"/runs/{run_id}/stream"), timeout=120)
        detail = server.get(f"/runs/{run_id}").json()
        assert [v["status"] for v in detail["variations"]] == ["succeeded"] * 2, detail
        assert detail["variations"][0]["setup"]["passed"] is True
        checks = [detail["baseline"]["checks"][0]] + [v["checks"][0]
                                                      for v in detail["variations"]]
        assert [c["status"] for c in checks] == ["passed"] * 3
        # Each agent was told the snapshot (the setup cloned it; they start from its copy).
        starting = [e.data["content"] for e in events if e.event == "agent_output"
                    and e.data["type"] == "status" and e.data["content"]["phase"] == "starting"]
        assert len(starting) == 2
        assert {c["repo_url"] for c in starting} == {"/run/aideator-source/source.bundle"}
        assert detail["base_commit"] == detail["source"]["commit"]
    finally:
        server.stop()
        model.stop()
