"""Iterating on a variation (``POST /runs`` with ``from``): every variation of the new run
starts from the parent's base commit plus its change, and its diff shows only the new work.

The agent is tests/fixtures/git_agent.py, which clones for real through the gateway
(shallow, as the real agent does) and starts from the parent's change with the real
agent's step (agent/base_change.py). The repository's default branch moves on after the
parent ran, so the base commit must be fetched. One gunicorn server for the module (the
``world`` of test_github, auth required: Alice and Bob).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from helpers import wait_for
from tests import test_github
from tests.test_github import CHANGE, expected_tree, git, tree_at

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
        world, tmp_path):
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
    # Its diff is against the parent's change: its patch is a series, the parent's change
    # and then its own, which gives the child variation's tree on the base commit.
    child_tree = {**expected_tree(0), "src/more.py": b"added by variation 0\n"}
    del child_tree["src/new.py"]
    fresh = applied(world, child["run_id"], 0, base, tmp_path / "child")
    assert tree_at(fresh, "HEAD") == child_tree
    assert tree_at(fresh, "HEAD^") == expected_tree(0)   # the parent variation's tree
    assert git("rev-parse", "HEAD^^", cwd=fresh).stdout.decode().strip() == base
    first_mail, second_mail = messages(fresh, 2)
    assert first_mail.startswith(f"AIdeator <aideator@noreply.invalid>\n"
                                 f"Run {parent['run_id']} variation 0: Make widgets\n")
    assert f"run {parent['run_id']}, variation 0." in first_mail
    assert second_mail.startswith("AIdeator <aideator@noreply.invalid>\nRefine\n")
    assert f"Builds on: run {parent['run_id']}, variation 0" in second_mail

    # Its pull request: a branch with both commits on the base commit; both runs linked.
    made = world.api("POST", f"/runs/{child['run_id']}/variations/0/pull-request")
    assert made.status_code == 201, made.text
    head = world.github.branch("acme", "widgets", made.json()["branch"])
    assert git("rev-parse", f"{head}^^", cwd=repo).stdout.decode().strip() == base
    assert tree_at(repo, f"{head}^") == expected_tree(0)
    assert tree_at(repo, head) == child_tree
    pull = next(p for p in world.github.pulls if p["number"] == made.json()["number"])
    assert pull["title"] == "Refine" and pull["head"]["sha"] == head
    for run_id in (child["run_id"], parent["run_id"]):
        assert f"{world.server.base}/runs/{run_id}" in pull["body"]

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
    # Its patch: the series of all three changes, oldest first.
    fresh = applied(world, grandchild["run_id"], 0, base, tmp_path / "grandchild")
    assert tree_at(fresh, "HEAD") == {
        **expected_tree(0), "keep.txt": b"one\nedited by variation 0\nedited by variation 1"
                                        b"\nedited by variation 0\n"}
    assert [m.split("\n")[1] for m in messages(fresh, 3)] == [
        f"Run {parent['run_id']} variation 0: Make widgets",
        f"Run {child['run_id']} variation 1: Refine", "edit=keep.txt"]

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


def applied(world, run_id: str, variation: int, base: str, where: Path) -> Path:
    """A fresh clone at ``base`` with the variation's downloaded patch applied by git am."""
    resp = world.api("GET", f"/runs/{run_id}/variations/{variation}/patch")
    assert resp.status_code == 200, resp.text
    assert git("clone", "-q", f"{world.github.url}/acme/widgets", str(where)).returncode == 0
    git("checkout", "-q", "--detach", base, cwd=where)
    done = git("am", cwd=where, input=resp.content)
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    return where


def messages(repo: Path, count: int) -> list[str]:
    """The last ``count`` commits' author, subject and body, oldest first."""
    return [git("log", "-1", "--format=%an <%ae>%n%s%n%b", f"HEAD~{n}", cwd=repo)
            .stdout.decode() for n in range(count - 1, -1, -1)]


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


def test_a_childs_patch_still_applies_after_its_parent_run_is_deleted(world, tmp_path):
    """The child keeps its own copy of what it started from: with the parent's rows gone,
    the ancestors' changes come as one mail, then the child's."""
    parent = world.run("acme/widgets", CHANGE)
    resp = start(world, {"run_id": parent["run_id"], "variation_id": 0},
                 "Again\nadd=src/again.py")
    assert resp.status_code == 202, resp.text
    child = finished(world, resp.json()["run_id"])
    assert world.api("DELETE", f"/runs/{parent['run_id']}").status_code == 204
    assert world.api("GET", f"/runs/{parent['run_id']}").status_code == 404

    base = parent["base_commit"]
    fresh = applied(world, child["run_id"], 0, base, tmp_path / "fresh")
    # Whatever the base holds (the default branch may have moved on), changed as above.
    at_base = {k: v for k, v in tree_at(fresh, base).items() if k != "gone.txt"}
    assert tree_at(fresh, "HEAD") == {**at_base, **expected_tree(0),
                                      "src/again.py": b"added by variation 0\n"}
    combined, own = messages(fresh, 2)
    assert combined.split("\n")[1] == (f"The change of run {parent['run_id']} variation 0 "
                                       "and its ancestors")
    assert own.split("\n")[1] == "Again"
