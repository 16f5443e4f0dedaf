"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gevent patches the standard library before anything else imports sockets or threads.
"""
from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402

from aideator import create_app  # noqa: E402

logging.basicConfig(level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
app.extensions["aideator"].resume()
