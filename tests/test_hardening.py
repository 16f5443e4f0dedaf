"""The embedded default cannot be driven by other web sites, and no caller can take every
connection of a worker with streams (real gunicorn servers)."""
from __future__ import annotations

import time

import requests

from helpers import REPO, start_run
from sse_client import read_events

ADMIN = "aid_hardening-admin-token"
PREFLIGHT = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type"}


def test_with_auth_off_other_sites_and_other_host_names_are_refused(make_server):
    server = make_server()
    # A page on another site: its preflight names no allowed origin, so the browser stops.
    preflight = requests.options(server.url("/runs"), headers=PREFLIGHT, timeout=10)
    assert preflight.headers.get("Access-Control-Allow-Origin") is None
    simple = requests.get(server.url("/runs"), headers={"Origin": "https://evil.example"},
                          timeout=10)
    assert simple.headers.get("Access-Control-Allow-Origin") is None
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: refused before any view,
    # so no run starts and nothing is read.
    for path, method in (("/runs", "POST"), ("/runs", "GET"), ("/health", "GET")):
        resp = requests.request(method, server.url(path), timeout=10,
                                headers={"Host": f"rebind.evil.example:{server.port}"},
                                json={"github_url": REPO, "prompt": "lines=1"})
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()["error"] == "bad_request"
    page = requests.get(server.base + "/", headers={"Host": "evil.example"}, timeout=10)
    assert page.status_code == 400
    assert server.get("/runs").json()["runs"] == []
    # The names the service is reached by on this machine still work.
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "localhost"):
        assert requests.get(server.url("/health"), headers={"Host": host},
                            timeout=10).status_code == 200, host


def test_configured_names_and_origins_are_served(make_server):
    server = make_server(trusted_hosts="aideator.test,.corp.example",
                         cors_origins="https://app.corp.example")
    for host in ("aideator.test", "ci.corp.example"):
        assert requests.get(server.url("/health"), headers={"Host": host},
                            timeout=10).status_code == 200, host
    assert requests.get(server.url("/health"), headers={"Host": "other.example"},
                        timeout=10).status_code == 400
    resp = requests.options(server.url("/runs"), timeout=10, headers={
        **PREFLIGHT, "Origin": "https://app.corp.example", "Host": "aideator.test"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.corp.example"


def _open(server, url: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(url, headers=headers, stream=True, timeout=10)


def _open_when_free(server, url: str, headers: dict[str, str] | None = None
                    ) -> requests.Response:
    """A stream, once closed ones have given their places back (within a few seconds)."""
    for _ in range(50):
        resp = _open(server, url, headers)
        if resp.status_code == 200:
            return resp
        resp.close()
        time.sleep(0.1)
    return resp


def _read_when_free(url: str, headers: dict[str, str]) -> list:
    """Every event of a stream, once closed streams have given their places back."""
    for _ in range(50):
        try:
            return read_events(url, headers=headers, timeout=30)
        except requests.HTTPError as exc:
            if exc.response is None or exc.response.status_code != 429:
                raise
            time.sleep(0.1)
    return read_events(url, headers=headers, timeout=30)


def test_one_principal_cannot_take_every_connection(make_server):
    # The server learns that a client went away when it next writes to it: at the next
    # heartbeat at the latest (here every half second).
    server = make_server(auth="required", admin_token=ADMIN, max_streams_per_principal="3",
                         max_streams_per_link="2", sse_heartbeat_seconds="0.5")
    bearer = {"Authorization": f"Bearer {ADMIN}"}
    run = start_run(server, "lines=1 hang=1", token=ADMIN)
    url = server.base + f"/api/v1/runs/{run['run_id']}/stream"
    held = [_open(server, url, bearer) for _ in range(3)]
    try:
        assert [r.status_code for r in held] == [200, 200, 200]
        refused = _open(server, url, bearer)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "10"
        assert refused.json()["error"] == "too_many_streams"
        # Probes and the API still get through.
        assert requests.get(server.url("/health"), timeout=5).status_code == 200
        assert requests.get(server.url("/runs"), headers=bearer, timeout=5).status_code == 200
        # A closed stream gives its place back.
        held.pop().close()
        again = _open_when_free(server, url, bearer)
        assert again.status_code == 200
        held.append(again)
    finally:
        for resp in held:
            resp.close()

    # A stream link (which a page might leak) has a share of its own, smaller.
    link = server.base + run["stream_url"]
    links = [_open_when_free(server, link) for _ in range(2)]
    try:
        assert [r.status_code for r in links] == [200, 200]
        assert _open(server, link).status_code == 429
    finally:
        for resp in links:
            resp.close()
    requests.post(server.url(f"/runs/{run['run_id']}/cancel"), headers=bearer, timeout=10)
    # The streams just closed give their places back at the server's next heartbeat.
    _read_when_free(url, bearer)
