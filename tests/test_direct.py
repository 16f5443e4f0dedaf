"""Caught-up clients parked in the fan-out: the publisher writes their sockets itself, and
hands back to their greenlets every client it cannot serve whole (a full socket, a
client gone, a gap, the run's end). Over real socket pairs, without a server."""
from __future__ import annotations

import gevent.socket
import pytest

from aideator.stream.direct import Direct, frame
from aideator.stream.fanout import Fanout
from aideator.stream.sse import frames


def batch(first: int, count: int, text: str = "x") -> bytes:
    return frames(first, "agent_output", [f'{{"line":"{text}{n}"}}'
                                          for n in range(first, first + count)])


def parked_pair(fanout: Fanout, run_id: str, chunked: bool = True
                ) -> tuple[Direct, gevent.socket.socket]:
    server_end, client_end = gevent.socket.socketpair()
    client = Direct(server_end, chunked)
    after = fanout.feed(run_id).last_seq
    assert fanout.park(run_id, client, after)
    return client, client_end


def read_exactly(sock: gevent.socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


@pytest.fixture
def fanout() -> Fanout:
    fanout = Fanout(window=1000)
    fanout.open("r", 0)
    return fanout


def test_one_batch_reaches_every_parked_client_in_its_framing_without_waking_it(fanout):
    chunked, chunked_end = parked_pair(fanout, "r", chunked=True)
    raw, raw_end = parked_pair(fanout, "r", chunked=False)
    chunk = batch(1, 3)
    fanout.publish("r", 1, 3, chunk)
    assert read_exactly(chunked_end, len(frame(chunk, True))) == \
        b"%X\r\n" % len(chunk) + chunk + b"\r\n"
    assert read_exactly(raw_end, len(chunk)) == chunk
    for client in (chunked, raw):
        assert client.after == 3 and not client.handed_back.is_set()
    # The next batch too, still parked.
    fanout.publish("r", 4, 4, batch(4, 1))
    assert read_exactly(raw_end, len(batch(4, 1))) == batch(4, 1)


def test_a_client_whose_socket_is_full_is_handed_back_with_the_rest_to_send(fanout):
    slow, slow_end = parked_pair(fanout, "r", chunked=False)
    fast, fast_end = parked_pair(fanout, "r", chunked=False)
    slow_end.setsockopt(gevent.socket.SOL_SOCKET, gevent.socket.SO_RCVBUF, 4096)
    sent, seq = b"", 0
    while not slow.handed_back.is_set():
        chunk = batch(seq + 1, 50, "y" * 200)
        fanout.publish("r", seq + 1, seq + 50, chunk)
        sent, seq = sent + chunk, seq + 50
        assert read_exactly(fast_end, len(chunk)) == chunk   # never held up by the slow one
        assert seq < 100_000, "the socket never filled"
    assert slow.pending and slow.after == seq
    fanout.unpark("r", slow)
    reader = gevent.spawn(read_exactly, slow_end, len(sent))
    slow.flush()   # its greenlet sends the rest as the reader takes it
    assert reader.get(timeout=10) == sent
    assert not fast.handed_back.is_set()


def test_a_client_that_left_is_handed_back_as_gone(fanout):
    client, client_end = parked_pair(fanout, "r")
    client_end.close()
    for seq in range(1, 4):   # the first write may still land in the kernel's buffers
        fanout.publish("r", seq, seq, batch(seq, 1))
        if client.handed_back.is_set():
            break
    assert client.gone and client.handed_back.is_set()


def test_a_gap_hands_clients_back_unwritten_so_they_read_the_store(fanout):
    client, client_end = parked_pair(fanout, "r")
    fanout.publish("r", 5, 6, batch(5, 2))   # events 1-4 were never published here
    assert client.handed_back.is_set() and client.after == 0
    client_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        client_end.recv(1)


def test_the_run_s_last_batch_is_written_then_every_client_is_handed_back(fanout):
    client, client_end = parked_pair(fanout, "r", chunked=False)
    last = frames(1, "run_finished", ['{"status":"completed"}'])
    fanout.publish("r", 1, 1, last, finished=True)
    assert read_exactly(client_end, len(last)) == last
    assert client.handed_back.is_set() and client.after == 1


def test_a_client_behind_the_feed_or_of_an_ending_process_cannot_park(fanout):
    fanout.publish("r", 1, 2, batch(1, 2))
    behind = Direct(gevent.socket.socketpair()[0], True)
    assert not fanout.park("r", behind, 1)
    client, _ = parked_pair(fanout, "r")
    fanout.close_all()
    assert client.handed_back.is_set()
    assert not fanout.park("r", Direct(gevent.socket.socketpair()[0], True), 2)
