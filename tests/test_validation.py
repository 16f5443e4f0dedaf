"""Bad input gets a clear JSON 4xx naming the field, and the store is left as it was."""
from __future__ import annotations

import sqlite3

import pytest
import requests

from helpers import REPO, Server, wait_for
from sse_client import read_events

GOOD = {"github_url": REPO, "prompt": "lines=2"}

BAD_RUNS = [
    # (body, status, field)
    ({"prompt": "x"}, 422, "github_url"),
    ({"github_url": "https://github.com/pallets/flask"}, 422, "prompt"),
    ({**GOOD, "github_url": "http://github.com/pallets/flask"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://gitlab.com/pallets/flask"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com.evil.com/pallets/flask"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://user:token@github.com/pallets/flask"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com:8443/pallets/flask"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/../etc"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/.."}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/flask/tree/main"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/flask?ref=x"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/flask#readme"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/flask/"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets"}, 422, "github_url"),
    ({**GOOD, "github_url": "git@github.com:pallets/flask.git"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/-bad/flask"}, 422, "github_url"),
    ({**GOOD, "github_url": "https://github.com/pallets/fl ask"}, 422, "github_url"),
    ({**GOOD, "github_url": 42}, 422, "github_url"),
    ({**GOOD, "prompt": ""}, 422, "prompt"),
    ({**GOOD, "prompt": "   \n\t "}, 422, "prompt"),
    ({**GOOD, "prompt": "fix\u0000it"}, 422, "prompt"),
    ({**GOOD, "prompt": "\u0000"}, 422, "prompt"),
    ({**GOOD, "prompt": "x" * 32001}, 422, "prompt"),
    ({**GOOD, "prompt": ["x"]}, 422, "prompt"),
    ({**GOOD, "variations": 0}, 422, "variations"),
    ({**GOOD, "variations": 6}, 422, "variations"),
    ({**GOOD, "variations": "3"}, 422, "variations"),
    ({**GOOD, "variations": 2.5}, 422, "variations"),
    ({**GOOD, "variations": True}, 422, "variations"),
    ({**GOOD, "agent_config": {"model": 7}}, 422, "agent_config.model"),
    ({**GOOD, "agent_config": {"model": "x; rm -rf /"}}, 422, "agent_config.model"),
    ({**GOOD, "agent_config": {"temperature": 1.5}}, 422, "agent_config.temperature"),
    ({**GOOD, "agent_config": {"temperature": -0.1}}, 422, "agent_config.temperature"),
    ({**GOOD, "agent_config": {"temperature": "hot"}}, 422, "agent_config.temperature"),
    ({**GOOD, "agent_config": {"temprature": 0.5}}, 422, "agent_config.temprature"),
    ({**GOOD, "agent_config": "fast"}, 422, "agent_config"),
    ({**GOOD, "agent_config": {"tools": "bash"}}, 422, "agent_config.tools"),
    ({**GOOD, "agent_config": {"tools": ["shell"]}}, 422, "agent_config.tools"),
    ({**GOOD, "variation_configs": [{"tools": "shell"}, {"tools": "web"}]}, 422,
     "variation_configs.1.tools"),
    ({**GOOD, "variation_configs": []}, 422, "variation_configs"),
    ({**GOOD, "variation_configs": [{"model": 1}]}, 422, "variation_configs.0.model"),
    ({**GOOD, "variations": 2, "variation_configs": [{}, {}, {}]}, 422, "variation_configs"),
    ({**GOOD, "variation_configs": [{}] * 6}, 422, "variation_configs"),
    ({**GOOD, "surprise": True}, 422, "surprise"),
    # Checks: at most 5, a name, one non-blank command line without NUL, 1..1800 s.
    ({**GOOD, "checks": [{"name": f"c{i}", "command": "true"} for i in range(6)]}, 422,
     "checks"),
    ({**GOOD, "checks": [{"name": "unit", "command": ""}]}, 422, "checks.0.command"),
    ({**GOOD, "checks": [{"name": "unit", "command": " \n "}]}, 422, "checks.0.command"),
    ({**GOOD, "checks": [{"name": "unit", "command": "pytest\u0000; rm -rf /"}]}, 422,
     "checks.0.command"),
    ({**GOOD, "checks": [{"name": "unit", "command": "x" * 4001}]}, 422, "checks.0.command"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true", "timeout_seconds": 0}]}, 422,
     "checks.0.timeout_seconds"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true", "timeout_seconds": 1801}]},
     422, "checks.0.timeout_seconds"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true", "timeout_seconds": "60"}]},
     422, "checks.0.timeout_seconds"),
    ({**GOOD, "checks": [{"command": "true"}]}, 422, "checks.0.name"),
    ({**GOOD, "checks": [{"name": "", "command": "true"}]}, 422, "checks.0.name"),
    ({**GOOD, "checks": [{"name": "a\nb", "command": "true"}]}, 422, "checks.0.name"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true"},
                         {"name": "unit", "command": "false"}]}, 422, "checks.1.name"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true", "junit_report": "../x.xml"}]},
     422, "checks.0.junit_report"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true",
                          "junit_report": "reports/../../x.xml"}]}, 422, "checks.0.junit_report"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true", "junit_report": "/etc/x.xml"}]},
     422, "checks.0.junit_report"),
    ({**GOOD, "checks": [{"name": "unit", "command": "true", "shell": "bash"}]}, 422,
     "checks.0.shell"),
    ({**GOOD, "checks": {"name": "unit", "command": "true"}}, 422, "checks"),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A server whose store already holds a finished, selected run."""
    data = tmp_path_factory.mktemp("validation") / "data"
    server = Server(data).start()
    run = server.post("/runs", {**GOOD, "variations": 2}).json()
    read_events(server.base + run["stream_url"])
    assert server.post(f"/runs/{run['run_id']}/select",
                       {"winning_variation_id": 0}).status_code == 200
    yield server, run["run_id"]
    server.stop()


def snapshot(server: Server) -> dict:
    with sqlite3.connect(f"file:{server.data_dir / 'aideator.db'}?mode=ro", uri=True) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("run", "variation", "eventbatch", "selection")}


def assert_json_error(resp: requests.Response, status: int, field: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["error"] and body["detail"]
    if field is not None:
        assert body["field"] == field
        assert field.split(".")[-1] in body["detail"] or field in body["detail"]


@pytest.mark.parametrize("body,status,field", BAD_RUNS)
def test_bad_run_requests_are_rejected_and_change_nothing(seeded, body, status, field):
    server, _ = seeded
    before = snapshot(server)
    assert_json_error(requests.post(server.url("/runs"), json=body, timeout=5), status, field)
    assert snapshot(server) == before


@pytest.mark.parametrize("data,headers,status,error", [
    (b'{"github_url": ', {"Content-Type": "application/json"}, 400, "invalid_json"),
    (b'{"github_url": NaN}', {"Content-Type": "application/json"}, 400, "invalid_json"),
    (b'\xff\xfe', {"Content-Type": "application/json"}, 400, "invalid_json"),
    (b"[]", {"Content-Type": "application/json"}, 422, "validation_error"),
    (b"null", {"Content-Type": "application/json"}, 422, "validation_error"),
    (b"github_url=x&prompt=y", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     "unsupported_media_type"),
    (b'{"github_url": "https://github.com/a/b", "prompt": "x"}', {"Content-Type": "text/plain"},
     415, "unsupported_media_type"),
    (b"", {}, 415, "unsupported_media_type"),
    (b'{"prompt": "' + b"x" * 70_000 + b'"}', {"Content-Type": "application/json"}, 413,
     "request_entity_too_large"),
])
def test_malformed_bodies_are_rejected_and_change_nothing(seeded, data, headers, status, error):
    server, _ = seeded
    before = snapshot(server)
    resp = requests.post(server.url("/runs"), data=data, headers=headers, timeout=5)
    assert_json_error(resp, status)
    assert resp.json()["error"] == error
    assert snapshot(server) == before


def test_selection_rules(seeded):
    server, run_id = seeded
    before = snapshot(server)
    for body, status, field in [({"winning_variation_id": 2}, 422, "winning_variation_id"),
                                ({"winning_variation_id": -1}, 422, "winning_variation_id"),
                                ({"winning_variation_id": "1"}, 422, "winning_variation_id"),
                                ({}, 422, "winning_variation_id"),
                                ({"winning_variation_id": 1, "why": "x"}, 422, "why")]:
        assert_json_error(server.post(f"/runs/{run_id}/select", body), status, field)
    assert_json_error(server.post("/runs/run-0000000000/select", {"winning_variation_id": 0}),
                      404)
    assert snapshot(server) == before
    assert server.get(f"/runs/{run_id}").json()["selection"]["winning_variation_id"] == 0


def test_unknown_runs_and_bad_parameters(seeded):
    server, run_id = seeded
    for path in ("/runs/run-0000000000", "/runs/run-0000000000/status",
                 "/runs/not-a-run-id", "/runs/RUN-UPPERCASE/status"):
        assert_json_error(server.get(path), 404)
    assert_json_error(server.post("/runs/run-0000000000/cancel", {}), 404)
    assert_json_error(server.post(f"/runs/{run_id}/cancel", {}), 409)
    assert_json_error(server.get("/runs", params={"limit": 0}), 400, "limit")
    assert_json_error(server.get("/runs", params={"limit": "many"}), 400, "limit")
    assert_json_error(server.get("/runs", params={"cursor": "run-0000000000"}), 400, "cursor")
    assert_json_error(server.get("/runs", params={"cursor": "12.run-x"}), 400, "cursor")
    not_allowed = requests.delete(server.url("/runs"), timeout=5)
    assert_json_error(not_allowed, 405)
    assert set(not_allowed.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert_json_error(server.get("/nothing-here"), 404)
    wait_for(lambda: server.get("/health").ok)


HUGE = 10**30


def test_numbers_far_out_of_range_are_4xx_naming_the_field(seeded):
    """Numbers beyond what the database or a date can hold are checked before reaching
    either: a clear 4xx, never a 500."""
    server, run_id = seeded
    before = snapshot(server)
    for index in (5, 2**63, HUGE):
        assert_json_error(server.get(f"/runs/{run_id}/variations/{index}/diff"), 404)
    for value in (5, 2**63, HUGE, 1e300):
        assert_json_error(server.post(f"/runs/{run_id}/select",
                                      {"winning_variation_id": value}),
                          422, "winning_variation_id")
    for value in (2**63, HUGE):
        assert_json_error(server.get(f"/runs/{run_id}/stream",
                                     headers={"Last-Event-ID": str(value)}), 400,
                          "Last-Event-ID")
        assert_json_error(server.get(f"/runs/{run_id}/stream",
                                     params={"last_event_id": value}), 400, "last_event_id")
    for value in (HUGE, 1e300):
        assert_json_error(server.post("/runs", {**GOOD, "variations": value}), 422,
                          "variations")
        assert_json_error(server.post("/runs", {**GOOD, "agent_config": {"max_turns": value}}),
                          422, "agent_config.max_turns")
    assert_json_error(server.get("/runs", params={"limit": HUGE}), 400, "limit")
    assert_json_error(server.get(f"/runs/{'run-' + 'a' * 2000}"), 404)
    assert snapshot(server) == before
    # A cursor past the year 9999 is after every run: the first page.
    page = server.get("/runs", params={"cursor": f"{10**19 - 1}.run-zzzzzzzzzz"})
    assert page.status_code == 200 and [r["run_id"] for r in page.json()["runs"]] == [run_id]
