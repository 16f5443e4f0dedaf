"""Run under gevent (as the service's workers are): while one greenlet's query sleeps in
PostgreSQL, do the others (a timer, other queries) go on? Prints JSON figures."""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

from aideator.store.models import connection, db, init_db  # noqa: E402


def main() -> None:
    init_db(sys.argv[1], pool_size=4)
    gaps: list[float] = []
    quick: list[float] = []

    def ticker() -> None:
        last = time.monotonic()
        while True:
            gevent.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    def slow() -> None:
        with connection():
            db.execute_sql("SELECT pg_sleep(1.5)")

    def query() -> None:
        with connection():
            started = time.monotonic()
            db.execute_sql("SELECT count(*) FROM run")
            quick.append(time.monotonic() - started)

    tick = gevent.spawn(ticker)
    sleeper = gevent.spawn(slow)
    gevent.sleep(0.2)
    for _ in range(5):
        gevent.spawn(query).join()
    during = not sleeper.ready()
    sleeper.join()
    tick.kill()
    print(json.dumps({"max_gap": max(gaps), "quick": quick, "during_slow": during}))


if __name__ == "__main__":
    main()
