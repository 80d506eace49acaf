"""``python -m gateway`` is the ``avrr`` command."""

from gateway.cli import main

main()
