"""GitHub tokens at rest: sealed with the configured key and bound to their principal, so
neither another key nor another principal's row opens them."""
from __future__ import annotations

import os
import stat

import pytest

from aideator.access import sealing
from aideator.config import Settings

TOKEN = "ghp_sealMe0123456789"


def test_a_sealed_token_opens_only_with_its_key_and_for_its_principal(tmp_path):
    settings = Settings(data_dir=str(tmp_path), encryption_key="key-one")
    sealed = sealing.seal(TOKEN, "tok-aaaaaaaaaa", settings)
    assert TOKEN not in sealed and sealed.startswith("v1:")
    assert sealing.seal(TOKEN, "tok-aaaaaaaaaa", settings) != sealed   # a fresh nonce each time
    assert sealing.unseal(sealed, "tok-aaaaaaaaaa", settings) == TOKEN
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(sealed, "tok-bbbbbbbbbb", settings)
    with pytest.raises(sealing.Unsealable, match="AIDEATOR_ENCRYPTION_KEY"):
        sealing.unseal(sealed, "tok-aaaaaaaaaa",
                       Settings(data_dir=str(tmp_path), encryption_key="key-two"))
    # Without an encryption key, the signing key is the material.
    by_secret = Settings(data_dir=str(tmp_path), secret_key="signing")
    assert sealing.unseal(sealing.seal(TOKEN, "-", by_secret), "-", by_secret) == TOKEN


def test_without_any_key_one_is_made_once_beside_the_database_readable_only_by_us(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"))
    sealed = sealing.seal(TOKEN, "-", settings)
    key_file = tmp_path / "data" / sealing.KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first = key_file.read_text()
    assert sealing.unseal(sealed, "-", settings) == TOKEN
    assert key_file.read_text() == first
