"""GitHub, for principals who connect it: their stored token (``tokens``), the REST calls
the service makes with it (``rest``), the service-side git that pushes a variation's
change (``push``) and the pull request made of both (``pulls``). The gateway's git
pass-through (``gateway.git``) reads the token too, to clone private repositories; the
agent never holds it.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def repo_of(github_url: str) -> tuple[str, str] | None:
    """(owner, repository) of a run's ``https://github.com/<owner>/<repo>[.git]``."""
    parts = urlsplit(github_url).path.strip("/").split("/")
    if len(parts) != 2:
        return None
    owner, name = parts[0], parts[1].removesuffix(".git")
    if not (_NAME.match(owner) and _NAME.match(name)) or name.strip(".") == "":
        return None
    return owner, name
