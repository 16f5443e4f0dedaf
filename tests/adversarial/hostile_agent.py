"""An agent that attacks the machine it runs on, as PROMPT tells it (one word):

  fork      a fork bomb (every process forks forever)
  memory    allocates 1 MiB after 1 MiB, touching every page
  disk      writes 1 MiB files into its workspace until it cannot
  files     opens /dev/null until it cannot; reports how many it got
  daemon    double-forks a daemon (its own session, no parent) that writes a heartbeat
            file in its workspace every 0.05 s, then exits 0 at once
  daemon_wait  the same, then waits (so it is still running when cancelled)
  linger    in its run's setup (MODE=setup): leaves a daemon that keeps trying the egress
            proxy (SETUP_PROXY), writing each try's outcome to its workspace's
            "egress-tries" file, then ends the setup; as a variation, waits a second
  net H:P ...  connects to each address (IPv6 in brackets); reports what happened, and
            whether the setup egress proxy's socket is there

Each reports what it did on stdout (the agent line protocol), so the test can read how
far it got before it was stopped.
"""
import json
import os
import sys
import time


def say(kind: str, **fields) -> None:
    print(json.dumps({"v": 1, "type": kind, **fields}), flush=True)


def fork_bomb() -> None:
    say("attack", name="fork", started=time.time())
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.001)


def memory_bomb() -> None:
    held = []
    while True:
        block = bytearray(1 << 20)
        for i in range(0, len(block), 4096):   # every page really used
            block[i] = 1
        held.append(block)
        if len(held) % 16 == 0:
            say("attack", name="memory", mib=len(held))


def disk_fill() -> None:
    workspace = os.environ["WORKSPACE"]
    chunk = os.urandom(1 << 20)
    n = 0
    try:
        while True:
            with open(os.path.join(workspace, f"fill-{n}"), "wb") as f:
                f.write(chunk)
            n += 1
            if n % 4 == 0:
                say("attack", name="disk", mib=n)
    except OSError as exc:
        say("attack", name="disk", mib=n, error=type(exc).__name__)
        time.sleep(60)


def open_files() -> None:
    held = []
    try:
        while len(held) < 1_000_000:
            held.append(open(os.devnull))
    except OSError as exc:
        say("attack", name="files", opened=len(held), error=type(exc).__name__)


def detached(work) -> None:
    """Run ``work`` in a double-forked daemon (a session of its own, no stdio): what a
    hostile agent, setup or check leaves behind to outlive its variation."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            work()
        os._exit(0)


def daemon(wait: bool) -> None:
    beat = os.path.join(os.environ["WORKSPACE"], "heartbeat")

    def heartbeat() -> None:
        while True:
            with open(beat + ".tmp", "w") as f:
                f.write(f"{os.getpid()} {time.time()}")
            os.replace(beat + ".tmp", beat)
            time.sleep(0.05)

    detached(heartbeat)
    while not os.path.exists(beat):
        time.sleep(0.01)
    with open(beat) as f:
        say("attack", name="daemon", pid=int(f.read().split()[0]))
    if wait:
        time.sleep(600)


def network(targets: list) -> None:
    import socket
    found = {}
    for target in targets:
        host, _, port = target.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
                found[target] = "connected"
        except OSError as exc:
            found[target] = type(exc).__name__ + (f" errno {exc.errno}" if exc.errno else "")
    say("attack", name="net", results=found,
        egress_socket=os.path.exists("/run/aideator/egress.sock"))


def linger() -> None:
    import socket
    if os.environ.get("MODE") != "setup":
        time.sleep(1)
        return
    log = os.path.join(os.environ["WORKSPACE"], "egress-tries")
    port = int(os.environ["SETUP_PROXY"].rsplit(":", 1)[1])

    def keep_trying() -> None:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n")
                    result = sock.recv(64).split(b"\r\n")[0].decode()
            except OSError as exc:
                result = type(exc).__name__
            with open(log, "a") as f:
                f.write(f"{time.time()} {result}\n")
            time.sleep(0.05)

    detached(keep_trying)
    while not os.path.exists(log):
        time.sleep(0.01)


def main() -> None:
    word, *rest = os.environ.get("PROMPT", "").split()
    if word == "net":
        return network(rest)
    {"fork": fork_bomb, "memory": memory_bomb, "disk": disk_fill, "files": open_files,
     "daemon": lambda: daemon(False), "linger": linger, "daemon_wait": lambda: daemon(True)}[word]()


if __name__ == "__main__":
    sys.exit(main())
