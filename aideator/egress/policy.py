"""Which destinations the setup egress proxy lets through: pure decisions, no sockets.

An entry of the allow-list is a host name (``pypi.org``: ports 80 and 443), a
``host:port``, or an exact ``IP:port``. Every name is resolved by the proxy and each
address checked here before anything is connected: a public registry name that resolves
to a private, loopback, link-local (cloud metadata, 169.254.169.254), multicast or
otherwise special address is refused, so a DNS answer cannot turn an allowed name into a
way into the cluster or the host. The one exception is an entry naming that exact
address and port (tests serve a package index on 127.0.0.1). The proxy then connects to
the address it checked, never resolving again.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORTS = (80, 443)
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                   r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


class Refused(Exception):
    """A destination the policy does not let through; the message says why."""


@dataclass(frozen=True)
class Policy:
    hosts: frozenset[tuple[str, int | None]]      # (name, port or None: 80/443)
    addresses: frozenset[tuple[str, int]]         # exact (ip, port)

    def check_name(self, host: str, port: int) -> None:
        """Whether ``host:port`` may be asked for at all (before resolving it)."""
        host = normalize_host(host)
        if _ip(host) is not None:
            if (str(_ip(host)), port) in self.addresses:
                return
            raise Refused(f"{host}:{port} is not on the allow-list")
        if (host, port) in self.hosts or (port in DEFAULT_PORTS and (host, None) in self.hosts):
            return
        raise Refused(f"{host}:{port} is not on the allow-list")

    def check_address(self, address: str, port: int) -> None:
        """Whether a resolved address may be connected to."""
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if (str(ip), port) in self.addresses:
            return
        if not ip.is_global or ip.is_multicast:
            raise Refused(f"{ip} is a private or special address")


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _split(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):                      # [v6]:port
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def parse(text: str) -> Policy:
    """The policy of an allow-list (``AIDEATOR_EGRESS_ALLOW``); raises ValueError naming
    the entry that is not a host, ``host:port`` or ``IP:port``."""
    hosts: set[tuple[str, int | None]] = set()
    addresses: set[tuple[str, int]] = set()
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        try:
            host, port = _split(entry)
        except ValueError:
            raise ValueError(f"egress allow-list: bad entry {entry!r}") from None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"egress allow-list: bad port in {entry!r}")
        host = normalize_host(host)
        ip = _ip(host)
        if ip is not None:
            if port is None:
                raise ValueError(f"egress allow-list: an address needs its port: {entry!r}")
            addresses.add((str(ip), port))
        elif _HOST.match(host):
            hosts.add((host, port))
        else:
            raise ValueError(f"egress allow-list: not a host name: {entry!r}")
    return Policy(frozenset(hosts), frozenset(addresses))
