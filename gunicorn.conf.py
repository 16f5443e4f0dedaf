"""gunicorn settings: gevent workers, each serving thousands of SSE clients.

The settings live in the package (``aideator/ops/gunicorn_conf.py``, which an installed
copy carries too); this file is what ``gunicorn -c gunicorn.conf.py wsgi:app`` reads in
the repository and the image. Every value can be overridden with GUNICORN_CMD_ARGS.
"""
import os
import sys

# The service's package, whatever directory gunicorn was started from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aideator.ops.gunicorn_conf import *  # noqa: E402,F401,F403
