"""The container the fake kubelet runs in these tests: behaviour picked by env values.

FAKE_DUMP_ENV=1 prints the whole environment as one JSON line first; FAKE_READ=PATH (a
path in the container, inside one of its mounts) prints that file as one JSON line
(``{"read": PATH, "content", "mode", "link"}``); FAKE_LINES lines are then printed
FAKE_INTERVAL seconds apart; FAKE_EXIT is the exit code. (Agent config keys become
upper-cased env vars, so a rendered Job sets these through ``agent_config``.)
"""
import json
import os
import stat
import sys
import time

if os.environ.get("FAKE_DUMP_ENV") == "1":
    print(json.dumps({"env": dict(os.environ)}), flush=True)
if os.environ.get("FAKE_READ"):
    wanted = os.environ["FAKE_READ"]
    mounts = json.loads(os.environ.get("FAKEKUBE_MOUNTS") or "{}")
    (mount,) = [m for m in mounts if wanted.startswith(m.rstrip("/") + "/")]
    local = mounts[mount] + wanted[len(mount):]
    with open(local) as f:
        content = f.read()
    print(json.dumps({"read": wanted, "content": content, "link": os.path.islink(local),
                      "mode": oct(stat.S_IMODE(os.stat(local).st_mode))}), flush=True)
for i in range(int(os.environ.get("FAKE_LINES", "1"))):
    print(f"line {i}", flush=True)
    time.sleep(float(os.environ.get("FAKE_INTERVAL", "0")))
if os.environ.get("FAKE_STDERR"):
    print(os.environ["FAKE_STDERR"], file=sys.stderr, flush=True)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
