"""The container the fake kubelet runs in these tests: behaviour picked by env values.

FAKE_DUMP_ENV=1 prints the whole environment as one JSON line first; FAKE_LINES lines are
then printed FAKE_INTERVAL seconds apart; FAKE_EXIT is the exit code. (Agent config keys
become upper-cased env vars, so a rendered Job sets these through ``agent_config``.)
"""
import json
import os
import sys
import time

if os.environ.get("FAKE_DUMP_ENV") == "1":
    print(json.dumps({"env": dict(os.environ)}), flush=True)
for i in range(int(os.environ.get("FAKE_LINES", "1"))):
    print(f"line {i}", flush=True)
    time.sleep(float(os.environ.get("FAKE_INTERVAL", "0")))
if os.environ.get("FAKE_STDERR"):
    print(os.environ["FAKE_STDERR"], file=sys.stderr, flush=True)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
