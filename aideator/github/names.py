"""Which GitHub repository a run's URL names, checked: its owner and name go into REST
paths and git URLs, so only GitHub's own characters pass."""
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
