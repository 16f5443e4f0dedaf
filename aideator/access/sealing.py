"""Secrets the service must keep and use again (principals' GitHub tokens), encrypted at
rest: a copy of the database, or a backup of it, holds nothing usable without the key.

AES-256-GCM (``cryptography``) with a key derived (HKDF-SHA256) from configuration:
``AIDEATOR_ENCRYPTION_KEY``, else ``AIDEATOR_SECRET_KEY``, else a key generated once into
``<data_dir>/encryption.key`` (mode 0600, beside the database, never in it: enough for
one machine; several replicas must share a configured key). Each sealed value is bound to
what it belongs to (the associated data: a principal's id), so a row copied onto another
principal's does not open.
"""
from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Settings

VERSION = "v1"
_INFO = b"aideator sealed secrets v1"
KEY_FILE = "encryption.key"


class Unsealable(Exception):
    """A sealed value that this key cannot open (another key, or tampered with)."""


def _key_file(data_dir: str) -> str:
    path = os.path.join(data_dir, KEY_FILE)
    try:
        # O_EXCL: two workers starting together agree on the first one written.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
    with open(path, encoding="utf-8") as f:
        value = f.read().strip()
    if not value:   # a concurrent writer has not finished yet
        raise Unsealable(f"{path} is empty")
    return value


@lru_cache(maxsize=8)
def _derive(material: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_INFO).derive(material.encode())


def key(settings: Settings) -> bytes:
    material = settings.encryption_key or settings.secret_key
    if not material:
        os.makedirs(settings.data_dir, exist_ok=True)
        material = _key_file(settings.data_dir)
    return _derive(material)


def seal(value: str, owner: str, settings: Settings) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key(settings)).encrypt(nonce, value.encode(), owner.encode())
    return f"{VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(sealed: str, owner: str, settings: Settings) -> str:
    version, _, body = sealed.partition(":")
    if version != VERSION:
        raise Unsealable(f"unknown sealing version {version[:10]!r}")
    try:
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(key(settings)).decrypt(raw[:12], raw[12:], owner.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise Unsealable("the sealed value does not open with this key: was "
                         "AIDEATOR_ENCRYPTION_KEY changed?") from exc
