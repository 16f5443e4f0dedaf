"""The setup egress allow-list: which destinations the proxy lets through, decided before
anything is connected (names, then every address a name resolves to)."""
from __future__ import annotations

import pytest

from aideator.config import Settings
from aideator.egress import policy

ALLOW = policy.parse("pypi.org, registry.npmjs.org:8443 127.0.0.1:3141 [::1]:8080")


def allowed(host: str, port: int, address: str | None = None) -> bool:
    try:
        ALLOW.check_name(host, port)
        ALLOW.check_address(address or host, port)
    except policy.Refused:
        return False
    return True


@pytest.mark.parametrize("host, port, address, expected", [
    ("pypi.org", 443, "151.101.0.223", True),
    ("PyPI.org.", 80, "151.101.0.223", True),          # case and the root dot
    ("pypi.org", 22, "151.101.0.223", False),           # a bare name: 80 and 443 only
    ("registry.npmjs.org", 8443, "104.16.0.35", True),
    ("registry.npmjs.org", 443, "104.16.0.35", False),  # name:port: that port only
    ("files.pythonhosted.org", 443, "151.101.0.223", False),   # not on this list
    ("evil.pypi.org", 443, "151.101.0.223", False),      # no subdomains
    # An allowed name resolving to a private, loopback, link-local (metadata) address.
    ("pypi.org", 443, "10.0.0.7", False),
    ("pypi.org", 443, "192.168.1.1", False),
    ("pypi.org", 443, "127.0.0.1", False),
    ("pypi.org", 443, "169.254.169.254", False),
    ("pypi.org", 443, "::ffff:10.0.0.7", False),
    ("pypi.org", 443, "fd00::1", False),
    ("pypi.org", 443, "224.0.0.1", False),
    # Exact IP:port entries, and nothing beside them.
    ("127.0.0.1", 3141, None, True),
    ("127.0.0.1", 3142, None, False),
    ("127.0.0.2", 3141, None, False),
    ("::1", 8080, None, True),
    ("169.254.169.254", 80, None, False),
])
def test_destinations(host, port, address, expected):
    assert allowed(host, port, address) is expected


def test_the_default_list_is_the_registries():
    hosts = {name for name, _ in policy.parse(Settings().egress_allow).hosts}
    assert hosts == {"pypi.org", "files.pythonhosted.org", "registry.npmjs.org",
                     "proxy.golang.org", "sum.golang.org", "crates.io", "static.crates.io",
                     "index.crates.io", "rubygems.org", "deb.debian.org",
                     "security.debian.org"}


@pytest.mark.parametrize("entry", ["127.0.0.1", "http://pypi.org", "pypi.org:0",
                                   "pypi.org:99999", "bad_name.org", "*.pypi.org"])
def test_bad_entries_are_refused_naming_them(entry):
    with pytest.raises(ValueError, match="egress allow-list"):
        policy.parse(entry)
