"""Storage: the Peewee models and their schema versions (``migrations/``), and the rows
several parts share: each run's lease (``ownership``) and each variation's metered usage.
Imports only the foundation modules (``config``, ``version``, ``naming``)."""
