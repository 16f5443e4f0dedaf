"""The chart always runs with access control on, its admin token and signing key from
Secrets."""
from __future__ import annotations

import base64

import pytest

from .conftest import DEV, PRODUCTION, api_environment, find, helm, render, CHART

TOKEN = "aid_a-token-of-at-least-24-chars"


def secrets(objects: list) -> dict:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}


def test_auth_is_required_and_cors_closed_by_default() -> None:
    objects = render()
    env = api_environment(objects)
    assert env["AIDEATOR_AUTH"] == "required"
    assert env["AIDEATOR_CORS_ORIGINS"] == ""
    assert (env["AIDEATOR_LIMIT_CONCURRENT_RUNS"], env["AIDEATOR_LIMIT_RUNS_PER_HOUR"],
            env["AIDEATOR_LIMIT_MAX_BUDGET_USD"]) == ("10", "60", "5")
    assert "AIDEATOR_ADMIN_TOKEN" not in env
    assert not any("admin-token" in name for name in secrets(objects))


def test_production_takes_the_admin_token_from_its_existing_secret() -> None:
    objects = render(*PRODUCTION)
    assert api_environment(objects)["AIDEATOR_ADMIN_TOKEN"] == {
        "secretKeyRef": {"name": "aideator-admin-token", "key": "token"}}
    assert api_environment(objects)["AIDEATOR_SECRET_KEY"] == {
        "secretKeyRef": {"name": "aideator-signing-key", "key": "secret-key"}}
    assert not secrets(objects)


def test_an_admin_token_value_goes_through_a_secret_of_the_chart() -> None:
    objects = render("--set", f"auth.adminToken.value={TOKEN}")
    secret = secrets(objects)["aideator-admin-token"]
    assert base64.b64decode(secret["data"]["token"]).decode() == TOKEN
    assert api_environment(objects)["AIDEATOR_ADMIN_TOKEN"] == {
        "secretKeyRef": {"name": "aideator-admin-token", "key": "token"}}
    assert TOKEN not in str(find(objects, "ConfigMap")) + str(find(objects, "Deployment"))
    # Changing the token rolls the pod (the Secret's checksum is on the pod template).
    other = render("--set", f"auth.adminToken.value={TOKEN}x")
    annotations = [find(o, "Deployment")["spec"]["template"]["metadata"]["annotations"]
                   for o in (objects, other)]
    assert annotations[0]["checksum/database"] != annotations[1]["checksum/database"]


def test_dev_values_have_a_local_admin_token_and_notes_tell_how_to_get_one() -> None:
    env = api_environment(render(*DEV))
    assert env["AIDEATOR_AUTH"] == "required"
    assert env["AIDEATOR_ADMIN_TOKEN"]["secretKeyRef"]["name"] == "aideator-admin-token"
    notes = helm("install", "aideator", str(CHART), "--dry-run=client", "--namespace",
                 "aideator").stdout
    assert "flask --app aideator tokens create" in notes and "Authorization: Bearer" in notes


def test_the_signing_key_comes_from_a_secret_the_chart_makes_random() -> None:
    objects = render()
    secret = secrets(objects)["aideator-signing-key"]
    key = base64.b64decode(secret["data"]["secret-key"]).decode()
    assert len(key) == 64 and key.isalnum()
    assert api_environment(objects)["AIDEATOR_SECRET_KEY"] == {
        "secretKeyRef": {"name": "aideator-signing-key", "key": "secret-key"}}
    assert key not in str(find(objects, "ConfigMap")) + str(find(objects, "Deployment"))
    # A fresh key per install (a render without a cluster has nothing to read back), and
    # the pods' checksum does not follow it: only the template's lookup keeps it stable.
    again = helm("template", "other", str(CHART), "--namespace", "aideator").stdout
    assert key not in again
    template = (CHART / "templates" / "api" / "secret-signing-key.yaml").read_text()
    assert 'lookup "v1" "Secret" .Release.Namespace $name' in template


def test_an_existing_signing_key_secret_is_used_and_none_is_made() -> None:
    objects = render("--set", "auth.signingKey.existingSecret.name=my-signing",
                     "--set", "auth.signingKey.existingSecret.key=k")
    assert api_environment(objects)["AIDEATOR_SECRET_KEY"] == {
        "secretKeyRef": {"name": "my-signing", "key": "k"}}
    assert not any("signing" in name for name in secrets(objects))


@pytest.mark.parametrize("bad", ["auth.signingKey.value=a-plain-key-in-values-0123456789",
                                 "auth.signingKey.existingSecret.name=Not_A_Name",
                                 "auth.adminToken.value=short",
                                 "auth.streamTokenSeconds=0",
                                 "auth.limits.maxBudgetUsd=-1",
                                 "auth.mode=off"])
def test_the_values_schema_refuses_weak_or_unknown_auth_values(bad: str) -> None:
    result = helm("template", "aideator", str(CHART), "--set", bad, check=False)
    assert result.returncode != 0 and "schema" in result.stderr.lower()


def test_the_github_token_encryption_key_comes_from_a_secret_like_the_signing_key() -> None:
    objects = render()
    secret = secrets(objects)["aideator-encryption-key"]
    key = base64.b64decode(secret["data"]["encryption-key"]).decode()
    assert len(key) == 64 and key.isalnum()
    env = api_environment(objects)
    assert env["AIDEATOR_ENCRYPTION_KEY"] == {
        "secretKeyRef": {"name": "aideator-encryption-key", "key": "encryption-key"}}
    assert key not in str(find(objects, "ConfigMap")) + str(find(objects, "Deployment"))
    assert env["AIDEATOR_GITHUB_URL"] == "https://github.com"
    assert env["AIDEATOR_GITHUB_API_URL"] == "https://api.github.com"
    objects = render("--set", "github.encryptionKey.existingSecret.name=my-key",
                     "--set", "github.encryptionKey.existingSecret.key=k",
                     "--set", "github.apiUrl=https://ghe.example.com/api/v3")
    env = api_environment(objects)
    assert env["AIDEATOR_ENCRYPTION_KEY"] == {"secretKeyRef": {"name": "my-key", "key": "k"}}
    assert env["AIDEATOR_GITHUB_API_URL"] == "https://ghe.example.com/api/v3"
    assert "aideator-encryption-key" not in secrets(objects)
