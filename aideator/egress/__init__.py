"""The setup egress: while a run's setup command runs, it may reach package registries on
an allow-list (``policy.py``) through a small proxy of ours (``proxy.py``); nothing else,
and nothing at all once the setup is over (the agent phase has no such proxy).

Local runtime: the proxy is served on a Unix socket in the run's setup directory and
bridged into the setup sandbox only (``runtimes/prepare.py``). Kubernetes: ``python -m
aideator.egress`` runs beside the API and accepts a variation's credential only while that
variation's setup runs (``window.py``). Imports ``store`` and ``gateway`` (its credentials).
"""
