"""Runs one variation's command and records how it ended.

The service may be restarted while a variation runs; the launcher outlives it (its own
session) and leaves the exit status in a file, so the restarted service learns the
outcome of a process that is no longer its child. Standalone and minimal on purpose: it
imports nothing from the service (nor json or subprocess), so it starts in milliseconds.

usage: launcher.py STATUS_FILE COMMAND [ARG ...]
"""
import os
import signal
import sys


def main(argv: list[str]) -> int:
    status_file, command = argv[1], argv[2:]
    child: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        # The whole process group usually gets the signal; forwarding covers a kill
        # aimed at the launcher alone. (Caught signals reset to default in the child.)
        for pid in child:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        child.append(os.posix_spawnp(command[0], command, os.environ))
    except OSError as exc:
        # Like a shell: say why on the output the service shows, and exit 127.
        print(f"cannot start the agent command {command[0]!r}: {exc.strerror}", flush=True)
        return _record(status_file, 127)
    _, status = os.waitpid(child[0], 0)
    return _record(status_file, os.waitstatus_to_exitcode(status))


def _record(status_file: str, code: int) -> int:
    tmp = status_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f'{{"exit_code": {code}}}' if code >= 0 else f'{{"signal": {-code}}}')
    os.replace(tmp, status_file)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
