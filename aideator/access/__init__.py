"""Access: principals and their tokens (``auth``, managed by the ``tokens`` CLI in
``cli``), signed stream links, each principal's ``limits`` and secrets sealed at rest
(``sealing``). Imports ``store`` and ``schemas``; the API applies it once per request."""
