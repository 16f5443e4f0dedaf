"""Iterating on a variation (``POST /runs`` with ``from``): every variation of the new run
starts from the parent's base commit plus its change, and its diff shows only the new work.

The agent is tests/fixtures/git_agent.py, which clones for real through the gateway
(shallow, as the real agent does) and starts from the parent's change with the real
agent's step (agent/base_change.py). The repository's default branch moves on after the
parent ran, so the base commit must be fetched. One gunicorn server for the module (the
``world`` of test_github, auth required: Alice and Bob).
"""
from __future__ import annotations

from typing import Any

import requests

from helpers import wait_for
from tests import test_github
from tests.test_github import CHANGE, git

# The same kind of module server (its own instance for this module).
world = test_github.world

URL = "https://github.com/acme/widgets"


def start(world, parent: dict[str, Any] | None, prompt: str, variations: int = 1,
          token: str | None = None, url: str = URL) -> requests.Response:
    body: dict[str, Any] = {"github_url": url, "prompt": prompt, "variations": variations}
    if parent is not None:
        body["from"] = parent
    return world.api("POST", "/runs", body, token=token)


def finished(world, run_id: str, token: str | None = None) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        detail = world.api("GET", f"/runs/{run_id}", token=token).json()
        return detail if detail["status"] in ("completed", "failed") else None
    return wait_for(ended, timeout=60, interval=0.2)


def diff_of(world, run_id: str, variation: int) -> dict[str, Any]:
    resp = world.api("GET", f"/runs/{run_id}/variations/{variation}/diff")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_child_starts_from_the_parents_change_and_its_diff_shows_only_the_new_work(
        world):
    parent = world.run("acme/widgets", f"Make widgets\n{CHANGE} v1.fail=1 v2.truncate=1",
                       variations=3)
    base = parent["base_commit"]
    assert parent["variations"][0]["status"] == "succeeded"
    # The default branch moves on: the shallow clone no longer holds the base commit.
    repo = world.github.path("acme", "widgets")
    (repo / "later.txt").write_text("a later commit\n")
    git("add", "later.txt", cwd=repo)
    assert git("commit", "-qm", "later", cwd=repo).returncode == 0

    origin = {"run_id": parent["run_id"], "variation_id": 0}
    # v0 deletes a file only the parent's change added; v1 edits a file the parent edited.
    resp = start(world, origin, "Refine\nv0.add=src/more.py v0.del=src/new.py "
                                "v1.edit=keep.txt", variations=2)
    assert resp.status_code == 202, resp.text
    child = finished(world, resp.json()["run_id"])
    assert [v["status"] for v in child["variations"]] == ["succeeded", "succeeded"], child
    assert child["parent"] == origin
    assert child["base_commit"] == base            # the repository's commit it started from
    assert "later.txt" not in str(child)

    first = diff_of(world, child["run_id"], 0)
    assert sorted(first["files"]) == ["src/more.py", "src/new.py"]
    assert "-added by variation 0\n" in first["patch"]   # the parent's file was there
    second = diff_of(world, child["run_id"], 1)
    assert second["files"] == ["keep.txt"]
    assert " edited by variation 0\n" in second["patch"]  # the parent's line, as context
    assert "+edited by variation 1\n" in second["patch"]
    assert "logo.bin" not in first["patch"] + second["patch"]  # not the parent's work
    # Its diff is against the parent's change: a patch of it alone would not apply on the
    # base commit, so none is offered (a 409 naming the parent).
    refused = world.api("GET", f"/runs/{child['run_id']}/variations/0/patch")
    assert refused.status_code == 409 and parent["run_id"] in refused.json()["detail"]

    # Lineage: the parent lists its child; the runs list shows the child's parent.
    again = world.api("GET", f"/runs/{parent['run_id']}").json()
    assert again["parent"] is None and again["children"] == [child["run_id"]]
    listed = {r["run_id"]: r for r in world.api("GET", "/runs").json()["runs"]}
    assert listed[child["run_id"]]["parent"] == origin
    assert listed[parent["run_id"]]["parent"] is None

    # A grandchild starts from both changes, on the first ancestor's commit.
    resp = start(world, {"run_id": child["run_id"], "variation_id": 1}, "edit=keep.txt")
    assert resp.status_code == 202, resp.text
    grandchild = finished(world, resp.json()["run_id"])
    assert grandchild["variations"][0]["status"] == "succeeded", grandchild
    third = diff_of(world, grandchild["run_id"], 0)
    assert third["files"] == ["keep.txt"]
    assert (" edited by variation 0\n edited by variation 1\n+edited by variation 0\n"
            in third["patch"])

    # A variation with no change to start from: a 409 that says why, nothing stored.
    before = len(world.api("GET", "/runs?limit=100").json()["runs"])
    failed = start(world, {"run_id": parent["run_id"], "variation_id": 1}, "add=x")
    assert failed.status_code == 409 and "no diff" in failed.json()["detail"], failed.text
    cut = start(world, {"run_id": parent["run_id"], "variation_id": 2}, "add=x")
    assert cut.status_code == 409 and "size limit" in cut.json()["detail"], cut.text
    other = start(world, origin, "add=x", url="https://github.com/acme/frozen")
    assert other.status_code == 422 and other.json()["field"] == "github_url", other.text
    missing = start(world, {"run_id": parent["run_id"], "variation_id": 4}, "add=x")
    assert missing.status_code == 404, missing.text
    assert len(world.api("GET", "/runs?limit=100").json()["runs"]) == before


def test_another_principals_run_cannot_be_a_parent(world):
    parent = world.run("acme/widgets", CHANGE)
    origin = {"run_id": parent["run_id"], "variation_id": 0}
    for run_id in (parent["run_id"], "run-0000000000"):
        resp = start(world, {**origin, "run_id": run_id}, "add=x", token=world.bob)
        assert resp.status_code == 404, resp.text
        assert resp.json()["detail"] == f"no run with id {run_id!r}"
    assert world.api("GET", "/runs", token=world.bob).json()["runs"] == []
    # Nor does Bob see Alice's child runs in her run's lineage (he cannot see her run).
    assert world.api("GET", f"/runs/{parent['run_id']}", token=world.bob).status_code == 404
