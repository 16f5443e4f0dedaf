"""Runs one variation's command and records how it ended.

The service may be restarted while a variation runs; the launcher outlives it (its own
session) and leaves the exit status in a file, so the restarted service learns the
outcome of a process that is no longer its child. Standalone on purpose: it imports
nothing from the service, so it starts fast and does not load the web stack.

usage: launcher.py STATUS_FILE COMMAND [ARG ...]
"""
import json
import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    status_file, command = argv[1], argv[2:]
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        # The whole process group usually gets the signal; forwarding covers a kill
        # aimed at the launcher alone.
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    code = child.wait()
    status = {"exit_code": code} if code >= 0 else {"signal": -code}
    tmp = status_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, status_file)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
