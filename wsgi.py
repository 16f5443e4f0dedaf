"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gevent patches the standard library before anything else imports sockets or threads.
"""
from gevent import monkey

monkey.patch_all()

from aideator import create_app  # noqa: E402

app = create_app()
app.extensions["aideator"].resume()
