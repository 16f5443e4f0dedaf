"""Leases and fencing, in one process on a real SQLite file: two "replicas" are two
``Leases`` (and event logs) with different owner ids."""
from __future__ import annotations

import gevent
import pytest

from aideator.store.models import Run, close_db, init_db
from aideator.store.ownership import Leases
from aideator.stream import events
from aideator.stream.eventlog import EventLog, event_count
from aideator.stream.fanout import Fanout

RUN = "run-leasetest"


@pytest.fixture
def store(tmp_path):
    init_db(f"sqlite:///{tmp_path / 'leases.db'}")
    Run.create(id=RUN, github_url="https://github.com/a/b", prompt="p", variation_count=1,
               agent_config={}, runtime="local", status="running")
    yield
    close_db()


def test_a_live_lease_cannot_be_claimed_and_an_expired_or_released_one_can(store):
    a, b = Leases("host-a/1/1.0", 0.3), Leases("host-b/2/2.0", 0.3)
    assert a.claim(RUN) == 1
    assert b.claimable() == [] and b.claim(RUN) is None
    gevent.sleep(0.4)                        # a did not renew in time
    assert b.claimable() == [RUN]
    assert b.claim(RUN) == 2
    assert a.claim(RUN) is None              # b's lease is live now
    assert a.renew({RUN: 1}) == {RUN}        # a learns it lost the run
    b.release([RUN])
    assert a.claimable() == [RUN] and a.claim(RUN) == 3


def test_renewing_keeps_a_lease_past_its_length(store):
    a, b = Leases("host-a/1/1.0", 0.3), Leases("host-b/2/2.0", 0.3)
    epoch = a.claim(RUN)
    for _ in range(5):
        gevent.sleep(0.1)
        assert a.renew({RUN: epoch}) == set()
    assert b.claim(RUN) is None


def test_a_fenced_owner_stores_nothing_more_and_keeps_out(store):
    leases_a, leases_b = Leases("host-a/1/1.0", 0.2), Leases("host-b/2/2.0", 0.2)
    event_log_a = EventLog(Fanout(100), 0.01, leases=leases_a)
    event_log_a.own(RUN, leases_a.claim(RUN))
    event_log_a.append(RUN, events.run_status(RUN, "running", "from a"))
    event_log_a.flush()
    assert event_count(RUN) == 1
    gevent.sleep(0.3)                              # a is paused past its lease ...
    event_log_b = EventLog(Fanout(100), 0.01, leases=leases_b)
    event_log_b.own(RUN, leases_b.claim(RUN))      # ... and b takes over
    event_log_b.append(RUN, events.run_status(RUN, "running", "from b"))
    event_log_b.flush()
    event_log_a.append(RUN, events.run_status(RUN, "running", "late words from a"))
    event_log_a.flush()                            # a wakes up: fenced
    assert event_count(RUN) == 2
    assert not event_log_a.pending(RUN)
    assert event_log_a.append(RUN, events.run_status(RUN, "running", "more from a")) == 0
    event_log_a.flush()
    assert event_count(RUN) == 2


def test_a_process_on_this_host_that_is_gone_loses_its_leases_at_once(store):
    import socket
    dead = Leases(f"{socket.gethostname()}/999999/1.0", 60)   # no such pid
    assert dead.claim(RUN) == 1
    me = Leases(f"{socket.gethostname()}/1/2.0", 60)
    assert me.claimable() == [RUN]
    other_host = Leases("elsewhere/1/2.0", 60)
    assert other_host.claimable() == []   # from another host, only expiry tells
