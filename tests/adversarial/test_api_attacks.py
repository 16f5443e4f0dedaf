"""Another principal's run, through every door the API has (read, stream, comparison,
diff, patch, pull request, choose, cancel, delete, iterate from it) and through a stream
link of another run: each answers as if the run did not exist, and nothing is stored or
changed (real gunicorn server, auth required; tests/test_auth.py holds the fixture and the
core endpoints, this adds the doors that came later)."""
from __future__ import annotations

from tests.test_auth import ADMIN, REPO, call, endpoints, world  # noqa: F401


def doors(run_id: str) -> list[tuple[str, str, object]]:
    later = [("GET", f"/runs/{run_id}/comparison", None),
             ("GET", f"/runs/{run_id}/variations/0/patch", None),
             ("POST", f"/runs/{run_id}/variations/0/pull-request", {}),
             ("POST", "/runs", {"github_url": REPO, "prompt": "more of it", "variations": 1,
                                "from": {"run_id": run_id, "variation_id": 0}})]
    return [d for d in endpoints(run_id) if run_id in d[1]] + later


def test_another_principals_run_answers_404_at_every_door_and_nothing_changes(world):  # noqa: F811
    run_id = world.run["run_id"]
    before = call(world.server, "GET", f"/runs/{run_id}", ADMIN).json()
    runs_before = len(call(world.server, "GET", "/runs", ADMIN).json()["runs"])
    for method, path, body in doors(run_id):
        resp = call(world.server, method, path, world.bob["token"], body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.json()["error"] == "not_found", (method, path)
    after = call(world.server, "GET", f"/runs/{run_id}", ADMIN).json()
    assert after["status"] == before["status"]
    assert after.get("winning_variation_id") == before.get("winning_variation_id")
    assert len(call(world.server, "GET", "/runs", ADMIN).json()["runs"]) == runs_before


def test_a_stream_link_opens_no_door_of_its_own_run_but_its_stream(world):  # noqa: F811
    run_id = world.run["run_id"]
    token = world.run["stream_url"].split("?token=")[1]
    for method, path, body in doors(run_id):
        if path.endswith("/stream"):
            continue
        resp = call(world.server, method, path, token, body)
        assert resp.status_code == 401, (method, path, resp.text)
