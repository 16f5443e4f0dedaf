"""SSE behaviour: replay after Last-Event-ID, many identical clients, late joiners,
heartbeats, and streams that must not hang."""
from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
import requests

from helpers import Server, start_run, wait_for
from sse_client import SSEEvent, iter_events, parse_frames, read_events


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One server for the module (a start and a stop cost ~2 s): each test reads only the
    runs it started; a test that needs other settings starts its own (``make_server``)."""
    shared = Server(tmp_path_factory.mktemp("streaming") / "data").start()
    yield shared
    shared.stop()


def test_reconnecting_with_last_event_id_gets_exactly_the_events_after_it(server):
    run = start_run(server, "lines=40 delay=0.005", variations=3)
    url = server.base + run["stream_url"]
    everything = read_events(url)
    for k in (1, 7, len(everything) // 2, len(everything) - 1):
        after = read_events(url, last_event_id=k)
        assert [e.raw for e in after] == [e.raw for e in everything[k:]]
    by_query = read_events(url + "?last_event_id=12")
    assert [e.raw for e in by_query] == [e.raw for e in everything[12:]]


def test_a_client_that_drops_mid_run_resumes_without_gaps_or_repeats(server):
    run = start_run(server, "lines=150 delay=0.01", variations=2)
    url = server.base + run["stream_url"]
    first: list[SSEEvent] = []
    for item in iter_events(url):
        if isinstance(item, SSEEvent):
            first.append(item)
        if len(first) == 25:
            break   # the connection closes while the run goes on
    rest = read_events(url, last_event_id=first[-1].id)
    whole = read_events(url)
    assert [e.raw for e in first + rest] == [e.raw for e in whole]
    assert whole[-1].event == "run_finished"


def test_fifty_concurrent_clients_get_identical_sequences(server):
    run = start_run(server, "lines=300 delay=0.002", variations=3)
    url = server.base + run["stream_url"]
    results: list[list[bytes] | BaseException] = [None] * 50  # type: ignore[list-item]

    def client(i: int) -> None:
        try:
            results[i] = [e.raw for e in read_events(url, timeout=120)]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not [r for r in results if isinstance(r, BaseException)]
    reference = results[0]
    assert len(reference) == 3 * 301 + 1 + 3 * 2 + 2
    assert all(r == reference for r in results)


def test_a_reader_that_stops_reading_gets_every_event_later_and_holds_nobody_up(server):
    """Streams that have caught up are written by the fan-out itself (one write per batch
    for all of them): a reader whose socket fills up goes back to its own pace, exactly
    in order and framed right (HTTP/1.1 chunks, decoded by http.client), while the others
    finish at theirs."""
    run = start_run(server, "lines=3000 pad=1500 start_delay=1", variations=2)
    url = server.base + run["stream_url"]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    slow = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    slow.sock = sock
    slow.request("GET", run["stream_url"])
    slow_response = slow.getresponse()
    assert slow_response.status == 200 and slow_response.chunked
    fast = read_events(url, timeout=60)   # while the slow reader reads nothing
    assert fast[-1].event == "run_finished"
    assert len(fast) > 6000   # ~9 MB: far more than both sockets' buffers hold
    time.sleep(0.5)
    events, _, rest = parse_frames(slow_response.read())
    assert rest == b"" and [e.raw for e in events] == [e.raw for e in fast]
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    slow.close()


def test_a_client_joining_after_the_run_finished_gets_everything(server):
    run = start_run(server, "lines=20", variations=2)
    live = read_events(server.base + run["stream_url"])
    wait_for(lambda: server.get(f"/runs/{run['run_id']}/status").json()["status"]
             == "completed")
    late = read_events(server.base + run["stream_url"])
    assert [e.raw for e in late] == [e.raw for e in live]
    assert late[-1].event == "run_finished"
    # A client that already saw the end gets an empty stream that closes at once.
    assert read_events(server.base + run["stream_url"], last_event_id=late[-1].id) == []


def test_idle_streams_get_heartbeats(make_server):
    server = make_server(sse_heartbeat_seconds="0.3")
    run = start_run(server, "lines=1 hang=1", variations=1)
    heartbeats = 0
    for item in iter_events(server.base + run["stream_url"], timeout=30):
        if isinstance(item, bytes):
            heartbeats += 1
            if heartbeats == 2:
                break
    assert heartbeats == 2
    assert server.post(f"/runs/{run['run_id']}/cancel", {}).status_code == 202
    assert read_events(server.base + run["stream_url"])[-1].data["status"] == "cancelled"


def test_unknown_runs_and_bad_positions_are_json_errors_not_hanging_streams(server):
    resp = requests.get(server.url("/runs/run-doesnotexi/stream"), timeout=5)
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"
    assert requests.get(server.url("/runs/../../etc/stream"), timeout=5).status_code == 404
    run = start_run(server, "lines=1", variations=1)
    bad = requests.get(server.base + run["stream_url"], headers={"Last-Event-ID": "abc"},
                       timeout=5)
    assert bad.status_code == 400 and bad.json()["field"] == "Last-Event-ID"


def test_stream_headers_suit_browsers_and_proxies(server):
    run = start_run(server, "lines=1", variations=1)
    with requests.get(server.base + run["stream_url"], stream=True, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["X-Accel-Buffering"] == "no"
        assert next(resp.iter_content(chunk_size=None)).startswith(b"retry: 3000\n\n")
