"""The chart's setup values: the egress allow-list and the package cache reach the service's
settings, and the agents' NetworkPolicy is the same whatever they say (the proxy is served
on the API's own port, which the policy already allows)."""
from __future__ import annotations

from aideator.config import Settings, load_settings
from aideator.egress import policy

from .conftest import api_environment, find, render

CUSTOM = ("--set", "agents.setup.egressAllow={pypi.org,registry.npmjs.org:443,10.0.0.5:3141}",
          "--set", "agents.setup.cache.existingClaim=aideator-packages")


def test_the_default_allow_list_renders_as_the_services_default() -> None:
    settings = load_settings(api_environment(render()))
    assert settings.egress_allow.split() == Settings().egress_allow.split()
    assert settings.setup_cache_claim == "" and settings.setup_cache_dir == "/cache"
    allowed = policy.parse(settings.egress_allow)
    assert ("pypi.org", None) in allowed.hosts and not allowed.addresses


def test_a_custom_allow_list_and_cache_render_and_the_network_policy_is_unchanged() -> None:
    default, custom = render(), render(*CUSTOM)
    settings = load_settings(api_environment(custom))
    allowed = policy.parse(settings.egress_allow)
    assert allowed.hosts == {("pypi.org", None), ("registry.npmjs.org", 443)}
    assert allowed.addresses == {("10.0.0.5", 3141)}
    assert settings.setup_cache_claim == "aideator-packages"
    assert find(custom, "NetworkPolicy") == find(default, "NetworkPolicy")
