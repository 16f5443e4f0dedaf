"""Many SSE clients in one process (gevent), measuring delivery latency per agent line.

usage: python -m benchmarks.sse_clients CLIENTS URL [URL ...]
Clients are spread over the URLs in turn (e.g. one stream URL per replica). Prints
``connected`` once every client has sent its request, then, when every stream has ended,
one JSON object: events per client and all latency samples in milliseconds.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from benchmarks.sse_reader import open_stream, read_stream  # noqa: E402


def main() -> None:
    n, urls = int(sys.argv[1]), sys.argv[2:]
    socks = [open_stream(urls[i % len(urls)]) for i in range(n)]
    print("connected", flush=True)
    latencies: list[float] = []
    jobs = [gevent.spawn(read_stream, sock, latencies) for sock in socks]
    gevent.joinall(jobs)
    print(json.dumps({"counts": [j.value["events"] for j in jobs], "latencies": latencies}),
          flush=True)


if __name__ == "__main__":
    main()
