"""The run lifecycle: a request turned into variations (``request``), started, collected
and supervised (``orchestrator``, ``collector``, ``cluster_warnings``) and deleted
(``deletion``). Imports ``stream``, ``store``, ``runtimes``, ``schemas`` and ``ops``."""
