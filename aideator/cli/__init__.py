"""The ``aideator`` command line: start runs on the repository you are in, watch every
variation in the terminal, compare them, and take the winner into your working tree.

A client of the public API only (HTTP, as the web app): it imports nothing of the service
but the foundation, so it starts fast, and it works against any AIdeator the URL names.
When none answers at the default local address it starts the embedded one (``embedded``).
"""
