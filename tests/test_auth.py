"""Access control as a deployment sees it: a real server with AIDEATOR_AUTH=required.

Every endpoint refuses a missing, malformed, unknown or revoked token (401 JSON with
WWW-Authenticate), hides other principals' runs (404), keeps admin endpoints for admins
(403), and records who created, cancelled and selected.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import REPO, ROOT, Server, start_run, wait_for
from sse_client import iter_events, read_events

ADMIN = "aid_admin-from-the-environment-0123456789"
HEARTBEAT = 1.0


def call(server: Server, method: str, path: str, token: str | None = None,
         body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    return requests.request(method, server.url(path), json=body, headers=hdrs, timeout=10)


def new_token(server: Server, name: str, **extra: Any) -> dict[str, Any]:
    resp = call(server, "POST", "/tokens", ADMIN, {"name": name, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


class World:
    """One server with auth required, three principals, and a finished run of alice's."""

    def __init__(self, tmp: Path) -> None:
        # A short heartbeat: open streams re-check their principal at that pace.
        self.server = Server(tmp / "data", auth="required", admin_token=ADMIN,
                             sse_heartbeat_seconds=str(HEARTBEAT)).start()
        self.alice = new_token(self.server, "alice")
        self.bob = new_token(self.server, "bob")
        carol = new_token(self.server, "carol")
        assert call(self.server, "DELETE", f"/tokens/{carol['id']}", ADMIN).status_code == 200
        self.revoked = carol["token"]
        self.run = start_run(self.server, token=self.alice["token"])
        read_events(self.server.base + self.run["stream_url"], timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = World(tmp_path_factory.mktemp("auth"))
    yield w
    w.server.stop()


def endpoints(run_id: str) -> list[tuple[str, str, Any]]:
    return [("GET", "/runs", None),
            ("POST", "/runs", {"github_url": REPO, "prompt": "lines=1", "variations": 1}),
            ("GET", f"/runs/{run_id}", None),
            ("GET", f"/runs/{run_id}/status", None),
            ("GET", f"/runs/{run_id}/stream", None),
            ("GET", f"/runs/{run_id}/variations/0/diff", None),
            ("POST", f"/runs/{run_id}/select", {"winning_variation_id": 0}),
            ("POST", f"/runs/{run_id}/cancel", None),
            ("POST", f"/runs/{run_id}/stream-token", None),
            ("DELETE", f"/runs/{run_id}", None),
            # Admins only, from here on.
            ("POST", "/tokens", {"name": "mallory"}),
            ("GET", "/tokens", None),
            ("DELETE", "/tokens/tok-0123456789", None),
            ("GET", "/replica", None)]


BAD_CREDENTIALS = {
    "no token": {},
    "malformed: not bearer": {"Authorization": f"Basic {ADMIN}"},
    "malformed: empty bearer": {"Authorization": "Bearer "},
    "malformed: spaces": {"Authorization": "Bearer aid_a aid_b"},
    "malformed: not ascii": {"Authorization": "Bearer aid_\u00e9t\u00e9".encode("utf-8")},
    "unknown": {"Authorization": "Bearer aid_nobody-has-this-token"},
}


@pytest.mark.parametrize("kind", [*BAD_CREDENTIALS, "revoked"])
def test_every_endpoint_refuses_a_caller_without_a_valid_token(world, kind):
    headers = BAD_CREDENTIALS.get(kind) or {"Authorization": f"Bearer {world.revoked}"}
    for method, path, body in endpoints(world.run["run_id"]):
        resp = call(world.server, method, path, body=body, headers=headers)
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.json()["error"] == "unauthorized" and resp.json()["detail"]
    # Nothing was started by all that.
    assert len(call(world.server, "GET", "/runs", ADMIN).json()["runs"]) == 1


def test_another_principals_run_does_not_exist_for_them(world):
    run_id = world.run["run_id"]
    for method, path, body in endpoints(run_id):
        if run_id not in path:
            continue
        resp = call(world.server, method, path, world.bob["token"], body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.json()["error"] == "not_found"
    assert call(world.server, "GET", "/runs", world.bob["token"]).json()["runs"] == []
    # The same probes with an id that does not exist answer the same way.
    missing = call(world.server, "GET", "/runs/run-0000000000", world.bob["token"]).json()
    assert missing["error"] == "not_found"


def test_a_non_admin_cannot_manage_tokens_nor_see_the_replica(world):
    for method, path, body in endpoints(world.run["run_id"])[-4:]:
        resp = call(world.server, method, path, world.alice["token"], body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["error"] == "forbidden"
    names = [t["name"] for t in call(world.server, "GET", "/tokens", ADMIN).json()["tokens"]]
    assert "mallory" not in names


def test_the_owner_and_admins_see_the_run_and_who_did_what(world):
    run_id, alice = world.run["run_id"], world.alice
    mine = call(world.server, "GET", "/runs", alice["token"]).json()["runs"]
    assert [r["run_id"] for r in mine] == [run_id]
    assert mine[0]["created_by"] == {"id": alice["id"], "name": "alice"}
    chosen = call(world.server, "POST", f"/runs/{run_id}/select", alice["token"],
                  {"winning_variation_id": 0}).json()
    assert chosen["selected_by"] == {"id": alice["id"], "name": "alice"}
    detail = call(world.server, "GET", f"/runs/{run_id}", ADMIN).json()
    assert detail["created_by"] == {"id": alice["id"], "name": "alice"}
    assert detail["selection"]["selected_by"] == {"id": alice["id"], "name": "alice"}
    assert detail["cancelled_by"] is None

    hanging = start_run(world.server, "lines=1 hang=1", token=world.bob["token"])
    resp = call(world.server, "POST", f"/runs/{hanging['run_id']}/cancel", ADMIN)
    assert resp.status_code == 202
    detail = wait_for(lambda: (d := call(world.server, "GET", f"/runs/{hanging['run_id']}",
                                         world.bob["token"]).json())["status"] == "cancelled"
                      and d)
    assert detail["created_by"]["name"] == "bob"
    assert detail["cancelled_by"] == {"id": "env-admin", "name": "admin (AIDEATOR_ADMIN_TOKEN)"}
    everyone = {r["run_id"] for r in call(world.server, "GET", "/runs", ADMIN).json()["runs"]}
    assert {run_id, hanging["run_id"]} <= everyone


def test_a_token_response_never_shows_a_secret_but_once(world):
    listed = call(world.server, "GET", "/tokens", ADMIN)
    assert listed.status_code == 200
    assert world.alice["token"] not in listed.text and "token_hash" not in listed.text
    assert {t["name"] for t in listed.json()["tokens"]} >= {"alice", "bob", "carol"}
    carol = next(t for t in listed.json()["tokens"] if t["name"] == "carol")
    assert carol["revoked_at"] is not None


# -- stream links ---------------------------------------------------------------------------

def test_the_stream_url_opens_the_stream_with_no_header(world):
    url = world.run["stream_url"]
    assert "?token=" in url
    events = read_events(world.server.base + url, timeout=20)   # no Authorization header
    assert events[-1].event == "run_finished"
    fresh = call(world.server, "POST", f"/runs/{world.run['run_id']}/stream-token",
                 world.alice["token"]).json()
    assert fresh["run_id"] == world.run["run_id"] and fresh["expires_at"].endswith("Z")
    assert [e.id for e in read_events(world.server.base + fresh["stream_url"])] == \
        [e.id for e in events]


def test_a_stream_token_opens_its_own_run_stream_and_nothing_else(world):
    token = world.run["stream_url"].split("?token=")[1]
    other = start_run(world.server, token=world.alice["token"])["run_id"]
    resp = requests.get(world.server.url(f"/runs/{other}/stream?token={token}"), timeout=10)
    assert resp.status_code == 401 and "another run" in resp.json()["detail"]
    run_id = world.run["run_id"]
    for method, path, body in endpoints(run_id):
        if path.endswith("/stream"):
            continue
        as_query = requests.request(method, world.server.url(f"{path}?token={token}"),
                                    json=body, timeout=10)
        as_bearer = call(world.server, method, path, token, body)
        assert as_query.status_code == as_bearer.status_code == 401, (method, path)


def test_a_forged_or_revoked_stream_token_is_refused(world):
    run_id = world.run["run_id"]
    token = world.run["stream_url"].split("?token=")[1]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    resp = requests.get(world.server.url(f"/runs/{run_id}/stream?token={forged}"), timeout=10)
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"
    dave = new_token(world.server, "dave")
    run = start_run(world.server, token=dave["token"])
    call(world.server, "DELETE", f"/tokens/{dave['id']}", ADMIN)
    resp = requests.get(world.server.base + run["stream_url"], timeout=10)
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


def test_a_revoked_principals_open_streams_end_within_one_heartbeat(world):
    """Revoking a token also ends the streams it opened (by link or by header), with a last
    event that tells the client why, so it does not reconnect."""
    erin = new_token(world.server, "erin")
    run = start_run(world.server, "lines=2 hang=1", token=erin["token"])
    urls = {"link": (world.server.base + run["stream_url"], None),
            "bearer": (world.server.url(f"/runs/{run['run_id']}/stream"),
                       {"Authorization": f"Bearer {erin['token']}"})}
    seen: dict[str, list] = {kind: [] for kind in urls}
    ended: dict[str, float] = {}

    def follow(kind: str) -> None:
        url, headers = urls[kind]
        for item in iter_events(url, headers=headers, timeout=30):
            seen[kind].append(item)
        ended[kind] = time.monotonic()

    threads = [threading.Thread(target=follow, args=(kind,), daemon=True) for kind in urls]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(any(getattr(e, "event", "") == "agent_output" for e in events)
                             for events in seen.values()), timeout=20)
        revoked_at = time.monotonic()
        assert call(world.server, "DELETE", f"/tokens/{erin['id']}", ADMIN).status_code == 200
        for thread in threads:
            thread.join(HEARTBEAT + 5)
        assert set(ended) == set(urls), "a stream of the revoked principal stayed open"
        for kind, events in seen.items():
            assert ended[kind] - revoked_at <= HEARTBEAT + 0.5, kind
            last = events[-1]
            assert (last.event, last.id, last.data["reason"]) == \
                ("stream_closed", None, "revoked"), kind
        # The run itself goes on.
        assert call(world.server, "GET", f"/runs/{run['run_id']}", ADMIN).json()[
            "status"] == "running"
    finally:
        call(world.server, "POST", f"/runs/{run['run_id']}/cancel", ADMIN)


def test_stream_tokens_are_not_logged(world):
    token = world.run["stream_url"].split("?token=")[1]
    read_events(world.server.base + world.run["stream_url"], timeout=20)
    log = world.server.log_path.read_text()
    assert f"/runs/{world.run['run_id']}/stream" in log   # the access log has the request
    assert token not in log and ADMIN not in log and world.alice["token"] not in log


def test_an_expired_stream_token_gets_a_401(make_server):
    server = make_server(auth="required", admin_token=ADMIN, stream_token_seconds="1")
    run = start_run(server, token=ADMIN)
    wait_for(lambda: requests.get(server.base + run["stream_url"], timeout=10)
             .status_code == 401, timeout=5)
    resp = requests.get(server.base + run["stream_url"], timeout=10)
    assert "expired" in resp.json()["detail"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


# -- limits ---------------------------------------------------------------------------------

def runs_of(server: Server) -> int:
    return len(call(server, "GET", "/runs?limit=100", ADMIN).json()["runs"])


def test_limits_refuse_the_run_that_goes_over_and_store_nothing(make_server):
    server = make_server(auth="required", admin_token=ADMIN, limit_max_budget_usd="3")
    erin = new_token(server, "erin", limits={"concurrent_runs": 1, "runs_per_hour": 3,
                                             "max_budget_usd": 2})
    hanging = start_run(server, "lines=1 hang=1", token=erin["token"])
    config = call(server, "GET", f"/runs/{hanging['run_id']}", ADMIN).json()
    # No budget asked: the ceiling, which the agent enforces.
    assert config["variations"][0]["config"]["max_budget_usd"] == 2

    second = call(server, "POST", "/runs", erin["token"],
                  {"github_url": REPO, "prompt": "lines=1", "variations": 1})
    assert second.status_code == 429 and second.json()["error"] == "limit_exceeded"
    assert int(second.headers["Retry-After"]) > 0
    over = call(server, "POST", "/runs", erin["token"],
                {"github_url": REPO, "prompt": "x", "variations": 2,
                 "variation_configs": [{}, {"max_budget_usd": 2.5}]})
    assert over.status_code == 422
    assert over.json()["field"] == "variation_configs.1.max_budget_usd"
    assert runs_of(server) == 1

    # The limit frees when the run ends.
    call(server, "POST", f"/runs/{hanging['run_id']}/cancel", erin["token"])
    wait_for(lambda: call(server, "GET", f"/runs/{hanging['run_id']}", ADMIN)
             .json()["status"] == "cancelled")
    for _ in range(2):
        run = start_run(server, token=erin["token"])
        wait_for(lambda: call(server, "GET", f"/runs/{run['run_id']}", ADMIN)
                 .json()["finished_at"])
    # Three runs this hour: the fourth waits until the first is an hour old.
    fourth = call(server, "POST", "/runs", erin["token"],
                  {"github_url": REPO, "prompt": "lines=1", "variations": 1})
    assert fourth.status_code == 429 and "hour" in fourth.json()["detail"]
    assert 3500 < int(fourth.headers["Retry-After"]) <= 3600
    assert runs_of(server) == 3
    # Other principals have limits of their own (the configured defaults).
    frank = new_token(server, "frank")
    assert call(server, "POST", "/runs", frank["token"],
                {"github_url": REPO, "prompt": "x", "agent_config":
                 {"max_budget_usd": 3.5}}).json()["field"] == "agent_config.max_budget_usd"
    start_run(server, token=frank["token"])


# -- tokens at rest, the CLI, modes ---------------------------------------------------------

def test_tokens_are_stored_only_as_hashes(make_server, tmp_path):
    server = make_server(auth="required", admin_token=ADMIN)
    grace = new_token(server, "grace")
    start_run(server, token=grace["token"])
    assert call(server, "GET", "/runs", grace["token"]).status_code == 200
    call(server, "DELETE", f"/tokens/{grace['id']}", ADMIN)
    server.stop()
    secret = grace["token"].encode()
    digest = hashlib.sha256(secret).hexdigest().encode()
    found_hash = False
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert secret not in content and ADMIN.encode() not in content, path
            found_hash = found_hash or digest in content
    assert found_hash


def test_the_cli_makes_the_first_admin_token_of_a_fresh_install(make_server, tmp_path):
    data = tmp_path / "data"
    env = {"AIDEATOR_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"}
    made = subprocess.run([sys.executable, "-m", "flask", "--app", "aideator", "tokens",
                           "create", "ops team", "--admin", "--concurrent-runs", "2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token = next(line.split(": ", 1)[1] for line in made.stdout.splitlines()
                 if line.startswith("token: "))
    server = make_server(data, auth="required")
    listed = call(server, "GET", "/tokens", token).json()["tokens"]
    assert [(t["name"], t["admin"], t["limits"]) for t in listed] == \
        [("ops team", True, {"concurrent_runs": 2})]
    bad = subprocess.run([sys.executable, "-m", "flask", "--app", "aideator", "tokens",
                          "create", "x" * 101], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode != 0 and "name" in bad.stderr


def test_the_embedded_default_needs_no_token(server):
    assert server.get("/replica").json()["auth"] == "off"
    run = server.post("/runs", {"github_url": REPO, "prompt": "lines=1"}).json()
    assert "token=" not in run["stream_url"]
    assert read_events(server.base + run["stream_url"], timeout=20)[-1].event == "run_finished"
    link = server.post(f"/runs/{run['run_id']}/stream-token", None).json()
    assert link["token"] is None and link["stream_url"] == run["stream_url"]
    assert server.get(f"/runs/{run['run_id']}").json()["created_by"] is None


def test_auth_off_is_refused_on_a_public_bind_unless_forced(tmp_path):
    server = Server(tmp_path / "data")
    server.env["AIDEATOR_BIND"] = f"0.0.0.0:{server.port}"
    with pytest.raises(RuntimeError, match="refusing to listen on 0.0.0.0"):
        server.start()
    server.env["AIDEATOR_INSECURE_ALLOW_NO_AUTH"] = "1"
    try:
        assert server.start().get("/replica").json()["auth"] == "off"
    finally:
        server.stop()


def test_cors_allows_no_origin_until_configured(make_server):
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}

    def allowed(server: Server, origin: str = "https://app.example.com") -> str | None:
        resp = requests.options(server.url("/runs"), headers={**preflight, "Origin": origin},
                                timeout=10)
        return resp.headers.get("Access-Control-Allow-Origin")

    assert allowed(make_server()) is None           # auth off: no other site either
    assert allowed(make_server(auth="required", admin_token=ADMIN)) is None
    configured = make_server(auth="required", admin_token=ADMIN,
                             cors_origins="https://app.example.com")
    assert allowed(configured) == "https://app.example.com"
    assert allowed(configured, "https://evil.example.net") is None
    resp = requests.options(configured.url("/runs"), headers=preflight, timeout=10)
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()
    assert resp.headers.get("Access-Control-Allow-Credentials") is None
