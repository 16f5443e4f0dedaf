"""GitHub, for principals who connect it: their stored token (``tokens``), the REST calls
the service makes with it (``rest``), the service-side git that pushes a variation's
change (``push``) and the pull request made of both (``pulls``); ``names`` checks a run's
repository. The gateway's git pass-through (``gateway.git``) reads the token too, to clone
private repositories; the agent never holds it. ``patch`` makes a variation's change a
``git format-patch`` mail. Imports ``store``, ``access`` (sealed tokens) and the agent's git.
"""
