"""Rendered Jobs are valid against the official Kubernetes schemas (strict: no unknown
fields) of the two newest minor versions kubernetes-validate ships."""
from __future__ import annotations

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from .conftest import render

VERSIONS = ["1.36.0", "1.37.0"]
NASTY = "quote ' \" : {{ .Values }} $(rm -rf /) \n---\n ünïcödé 🚀 \t"


def test_the_validated_versions_are_the_newest_shipped() -> None:
    # all_versions() lists each version twice (plain and strict schema folders).
    assert sorted(set(all_versions()), key=lambda v: tuple(map(int, v.split("."))))[-2:] == VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("job", [
    render(),
    render(variation_id=4, prompt=NASTY, config={"model": "claude-opus-4", "max_turns": 30}),
    render(image_pull_policy="Always", image_pull_secrets=["regcred"], ttl_seconds=0),
], ids=["plain", "nasty-prompt", "pull-options"])
def test_rendered_job_validates_strictly(version: str, job: dict) -> None:
    assert kubernetes_validate.validate(job, version, strict=True) == version.rsplit(".", 1)[0]


def test_strict_validation_would_catch_a_template_typo() -> None:
    job = render()
    job["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSIONS[-1], strict=True)
