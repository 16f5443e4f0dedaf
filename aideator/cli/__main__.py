"""``python -m aideator.cli``: the same as the ``aideator`` command."""
from .main import main

main()
