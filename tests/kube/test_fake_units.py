"""Pure pieces of the fake: selector parsing and the kubelet's $(VAR) expansion."""
from __future__ import annotations

import pytest

from aideator.runtimes.kubernetes.manifests import escape_env_value

from .fakeapi.expansion import expand
from .fakeapi.selectors import label_selector
from .fakeapi.status import ApiError

POD = {"metadata": {"labels": {"app": "aideator-agent", "run-id": "run-a", "variation-id": "1"}}}


@pytest.mark.parametrize("selector, matches", [
    ("", True),
    ("app=aideator-agent,run-id=run-a", True),
    ("app==aideator-agent, run-id = run-b", False),
    ("run-id!=run-b", True),
    ("variation-id in (0, 1)", True),
    ("variation-id notin (1)", False),
    ("run-id,!missing", True),
    ("!run-id", False),
])
def test_label_selectors(selector: str, matches: bool) -> None:
    assert label_selector(selector)(POD) is matches


def test_bad_selector_is_400() -> None:
    with pytest.raises(ApiError) as caught:
        label_selector("a in b")
    assert caught.value.code == 400


@pytest.mark.parametrize("raw, expanded", [
    ("$(A)", "x"), ("$$(A)", "$(A)"), ("$(rm -rf /)", "$(rm -rf /)"), ("$$", "$"),
    ("a$", "a$"), ("$(A", "$(A"), ("$x", "$x"), ("$(A)$(A)", "xx"),
])
def test_kubelet_expansion(raw: str, expanded: str) -> None:
    assert expand(raw, {"A": "x"}) == expanded
    assert expand(escape_env_value(raw), {"A": "x"}) == raw
