"""Iterating on large changes: the parent's change reaches the agent as a file, so a change
far over what one environment variable may hold (Linux: 128 KiB) iterates as any other,
up to the cap (aideator/api/lineage.py, 720 KiB with its ancestors'); over it, ``POST
/runs`` with ``from`` is refused with a 409 that says so, and nothing is stored.

Three generations of tests/fixtures/git_agent.py's ``big=`` change (about 252 KiB of
diff each, just under the agent's diff limit): the grandchild starts from about 504 KiB,
and a run on the grandchild's change (about 756 KiB) is refused. One gunicorn server for
the module (the ``world`` of test_github).
"""
from __future__ import annotations

from aideator.api.lineage import MAX_CHANGE_BYTES
from tests import test_github
from tests.test_iterate import diff_of, finished, start

world = test_github.world


def iterate(world, parent: dict, prompt: str) -> dict:
    resp = start(world, {"run_id": parent["run_id"], "variation_id": 0}, prompt)
    assert resp.status_code == 202, resp.text
    child = finished(world, resp.json()["run_id"])
    assert child["variations"][0]["status"] == "succeeded", child
    return child


def test_a_change_over_the_old_environment_limit_iterates_and_one_over_the_cap_is_refused(
        world):
    parent = world.run("acme/widgets", "Enlarge\nbig=a.txt")
    assert parent["variations"][0]["status"] == "succeeded", parent
    first = diff_of(world, parent["run_id"], 0)
    assert first["files"] == ["a.txt"] and not first["truncated"]
    size = len(first["patch"].encode())
    assert 240 * 1024 < size < 256 * 1024

    child = iterate(world, parent, "big=b.txt edit=a.txt")
    second = diff_of(world, child["run_id"], 0)
    assert second["files"] == ["a.txt", "b.txt"]
    # The parent's whole file was in the child's clone: its last line is the context.
    assert " variation 0 a.txt line 02549 ..." in second["patch"]
    assert "+edited by variation 0\n" in second["patch"]

    # Both changes (over 300 KiB together) reach the grandchild's clone.
    grandchild = iterate(world, child, "big=c.txt edit=b.txt")
    assert grandchild["parent"] == {"run_id": child["run_id"], "variation_id": 0}
    third = diff_of(world, grandchild["run_id"], 0)
    assert third["files"] == ["b.txt", "c.txt"], third["files"]
    assert " variation 0 b.txt line 02549 ..." in third["patch"]
    assert "a.txt" not in third["patch"]   # only the new work

    # The great-grandchild would start from the three changes, over the cap: refused.
    before = world.api("GET", "/runs?limit=100").json()["runs"]
    refused = start(world, {"run_id": grandchild["run_id"], "variation_id": 0}, "add=x")
    assert refused.status_code == 409, refused.text
    error = refused.json()
    assert error["field"] == "from"
    assert (f"variation 0 of run {grandchild['run_id']} cannot be iterated on: its change "
            "(with its ancestors') is 7" in error["detail"])
    assert f"over the {MAX_CHANGE_BYTES // 1024} KiB a run can start from" in error["detail"]
    assert world.api("GET", "/runs?limit=100").json()["runs"] == before
    # The refused run's parent is unchanged: no child was recorded.
    assert world.api("GET", f"/runs/{grandchild['run_id']}").json()["children"] == []
