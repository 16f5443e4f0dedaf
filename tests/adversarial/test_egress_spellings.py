"""The setup egress proxy against loopback and metadata addresses in every spelling, in
both request forms (CONNECT and absolute-form plain HTTP), and against a name that
resolves to loopback: refused with a 403 and no connection made (the real proxy on a
loopback port; the services it must not reach listen beside it)."""
from __future__ import annotations

import gevent
import gevent.socket
import pytest
from gevent.server import StreamServer

from aideator.egress import policy
from aideator.egress.proxy import EgressProxy


@pytest.fixture(scope="module")
def world():
    """A service on loopback (which the setup must not reach), counting its connections,
    and the proxy, whose allow-list names it only as a host name and as another port."""
    reached: list[object] = []
    target = StreamServer(("127.0.0.1", 0), lambda sock, addr: reached.append(addr))
    target.start()
    port = target.server_port
    # "localhost:PORT" lets the name through; what it resolves to must still be refused.
    allow = policy.parse(f"pypi.org localhost:{port} 127.0.0.1:{port + 1}")
    proxy = StreamServer(("127.0.0.1", 0), EgressProxy(allow).handle)
    proxy.start()
    yield proxy.server_port, port, reached
    proxy.stop()
    target.stop()


def ask(proxy_port: int, request: str) -> bytes:
    sock = gevent.socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    try:
        sock.sendall(request.encode())
        answer = b""
        with gevent.Timeout(10):
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return answer
                answer += chunk
    finally:
        sock.close()


LOOPBACK = ["127.0.0.1", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]", "0x7f000001",
            "2130706433", "127.1", "0177.0.0.1", "localhost", "LOCALHOST.", "[::]"]
METADATA = ["169.254.169.254", "[::ffff:169.254.169.254]", "0xa9fea9fe", "2852039166",
            "[fd00:ec2::254]", "metadata.google.internal", "10.0.0.1", "192.168.0.1",
            "172.16.0.1", "[fd00::1]"]


@pytest.mark.parametrize("form", ["CONNECT", "absolute"])
@pytest.mark.parametrize("host", LOOPBACK + METADATA)
def test_every_spelling_of_a_forbidden_address_is_refused(world, host, form):
    proxy_port, port, reached = world
    before = len(reached)
    request = (f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
               if form == "CONNECT" else
               f"GET http://{host}:{port}/latest/meta-data/ HTTP/1.1\r\n"
               f"Host: {host}:{port}\r\n\r\n")
    answer = ask(proxy_port, request)
    assert answer.startswith(b"HTTP/1.1 403 "), answer
    gevent.sleep(0.01)
    assert len(reached) == before


def test_a_request_in_origin_form_is_not_a_way_around(world):
    proxy_port, port, reached = world
    before = len(reached)
    answer = ask(proxy_port, f"GET /latest/meta-data/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert len(reached) == before


def test_only_the_exact_allowed_entry_gets_through_not_its_other_spellings(world):
    """The one way to allow a loopback address is its exact IP:port entry; this test's
    listener counts the connection it makes, so a refusal above is a real one."""
    _, port, reached = world
    proxy = StreamServer(("127.0.0.1", 0), EgressProxy(policy.parse(f"127.0.0.1:{port}")).handle)
    proxy.start()
    try:
        before = len(reached)
        answer = ask(proxy.server_port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        gevent.sleep(0.05)
        assert len(reached) == before + 1
        for other in ("127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "localhost"):
            assert ask(proxy.server_port, f"CONNECT {other}:{port} HTTP/1.1\r\n\r\n") \
                .startswith(b"HTTP/1.1 403 "), other
        assert len(reached) == before + 1
    finally:
        proxy.stop()
