"""The event log and the fan-out: stored before sent, in order, shared by every client."""
from __future__ import annotations

import gevent
import pytest

from aideator.store.models import EventBatch, Run, Variation, db, init_db
from aideator.stream import events
from aideator.stream.eventlog import EventLog, event_count, stored_frames
from aideator.stream.fanout import Fanout

RUN = "run-aaaaaaaaaa"


@pytest.fixture
def store(tmp_path):
    init_db(f"sqlite:///{tmp_path / 'events.db'}")
    Run.create(id=RUN, github_url="https://github.com/a/b", prompt="p",
               variation_count=1, agent_config={}, runtime="local")
    Variation.create(run=RUN, index=0, config={}, job_name="agent-run-a-0")
    yield
    db.close()


def replay(after: int) -> bytes:
    return b"".join(frames for frames, _, _ in stored_frames(RUN, after, max_batches=1000))


def test_events_get_increasing_ids_and_are_committed_in_batches(store):
    fanout = Fanout(window=100)
    fanout.open(RUN, 0)
    event_log = EventLog(fanout, flush_interval=0.01)
    for i in range(250):
        event_log.extend(RUN, "agent_output", [f'{{"n":{i}}}'], variation=0,
                         variation_update={"cursor": str(i)})
    assert event_count(RUN) == 0                    # not yet committed ...
    assert fanout.read(RUN, 0) == (b"", 0, False)   # ... so not yet sent
    gevent.sleep(0.05)
    assert event_count(RUN) == 250 and EventBatch.select().count() == 1
    assert Variation.get().cursor == "249"
    frames, last, finished = fanout.read(RUN, 200)
    assert last == 250 and not finished
    assert frames.startswith(b'id: 201\nevent: agent_output\ndata: {"n":200}\n\nid: 202\n')
    assert frames.count(b"\n\n") == 50
    # The store holds exactly what was sent, from any position.
    assert replay(200) == frames
    assert replay(0).count(b"\n\nid: ") == 249 and replay(0).startswith(b"id: 1\n")
    assert replay(249) == b'id: 250\nevent: agent_output\ndata: {"n":249}\n\n'
    assert replay(250) == b""


def test_the_last_event_of_a_run_is_marked_in_the_store_and_the_feed(store):
    fanout = Fanout(window=100)
    fanout.open(RUN, 0)
    event_log = EventLog(fanout, flush_interval=0.01)
    event_log.append(RUN, events.run_status(RUN, "completed", "done"))
    event_log.flush()
    event_log.append(RUN, events.run_finished(RUN, "completed"))
    event_log.flush()
    assert [finished for _, _, finished in stored_frames(RUN, 0)] == [False, True]
    assert fanout.read(RUN, 1)[2] is True


def _failing_once(monkeypatch, during=lambda event_log: None):
    """An event log of a fresh fan-out whose first commit fails (after ``during`` ran, as
    if queued while that commit was under way); the list of failures so far."""
    fanout = Fanout(window=100)
    fanout.open(RUN, 0)
    event_log = EventLog(fanout, flush_interval=0.01)
    real_commit, failures = event_log._commit, []

    def flaky_commit(*args):
        if not failures:
            failures.append(1)
            during(event_log)
            raise RuntimeError("database is locked")
        return real_commit(*args)

    monkeypatch.setattr(event_log, "_commit", flaky_commit)
    return fanout, event_log, failures


def test_a_failed_commit_publishes_nothing_and_is_retried(store, monkeypatch):
    fanout, event_log, failures = _failing_once(monkeypatch)
    event_log.append(RUN, ("status", "{}"))
    gevent.sleep(0.015)
    assert failures and fanout.read(RUN, 0) == (b"", 0, False)
    event_log.append(RUN, ("status", '{"second":1}'))
    gevent.sleep(0.1)
    assert event_count(RUN) == 2
    assert replay(0) == (b'id: 1\nevent: status\ndata: {}\n\n'
                         b'id: 2\nevent: status\ndata: {"second":1}\n\n')
    assert fanout.read(RUN, 0)[:2] == (replay(0), 2)


def test_state_queued_during_a_failed_commit_lands_after_it_and_wins(store, monkeypatch):
    # While the commit is under way (it yields on PostgreSQL), more is queued.
    fanout, event_log, failures = _failing_once(monkeypatch, lambda event_log: event_log.append(
        RUN, ("status", '{"n":2}'), variation=0, variation_update={"cursor": "2"},
        run_update={"status": "completed"}))
    event_log.append(RUN, ("status", '{"n":1}'), variation=0,
                     variation_update={"cursor": "1", "status": "running"},
                     run_update={"status": "running"})
    gevent.sleep(0.1)
    assert failures and event_count(RUN) == 2
    assert replay(0) == (b'id: 1\nevent: status\ndata: {"n":1}\n\n'
                         b'id: 2\nevent: status\ndata: {"n":2}\n\n')
    assert fanout.read(RUN, 0)[:2] == (replay(0), 2)
    variation = Variation.get()
    assert (variation.cursor, variation.status) == ("2", "running")
    assert Run.get().status == "completed"
    assert not event_log.pending(RUN)


def test_every_waiting_client_wakes_on_one_publish():
    fanout = Fanout(window=10)
    fanout.open("run-bbbbbbbbbb", 0)
    woke = []

    def client(i):
        fanout.wait("run-bbbbbbbbbb", 0, timeout=5)
        woke.append(i)

    clients = [gevent.spawn(client, i) for i in range(100)]
    gevent.sleep(0)
    fanout.publish("run-bbbbbbbbbb", 1, 1, b"id: 1\n\n", finished=True)
    gevent.joinall(clients, timeout=1)
    assert sorted(woke) == list(range(100))
    assert fanout.read("run-bbbbbbbbbb", 0) == (b"id: 1\n\n", 1, True)
    fanout.close("run-bbbbbbbbbb")
    assert fanout.read("run-bbbbbbbbbb", 0) is None


def test_the_window_keeps_the_newest_events_and_positions_inside_chunks_work():
    fanout = Fanout(window=10)
    fanout.open(RUN, 0)
    for first in range(1, 40, 4):   # chunks of 4 events: 1-4, 5-8, ..., 37-40
        chunk = b"".join(b"id: %d\nevent: e\ndata: {}\n\n" % seq for seq in range(first, first + 4))
        fanout.publish(RUN, first, first + 3, chunk)
    assert fanout.read(RUN, 20) is None               # older than the window: the store
    frames, last, _ = fanout.read(RUN, 30)            # mid-chunk (29-32)
    assert last == 40 and frames.startswith(b"id: 31\n") and frames.count(b"\n\n") == 10
    assert fanout.read(RUN, 40) == (b"", 40, False)
