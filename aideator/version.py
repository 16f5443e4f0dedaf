"""The service's version, in a module of its own: setup.cfg, /health and the tracing
resource read it from here, and importing it costs nothing (no Flask, no database)."""

__version__ = "2.0.0"
