"""What every engine tells its model, around what it can do there: that nobody will answer,
where to work, and what to leave behind."""
from __future__ import annotations

_START = ("You are running unattended inside AIdeator: nobody will answer questions. "
          "Work only in the current repository. ")
_END = ("Make the requested change directly in the files, then reply with a short summary "
        "of what you changed.")


def around(can: str) -> str:
    """The instructions, with ``can`` (what the model can do, ending in a space) inside."""
    return _START + can + _END
