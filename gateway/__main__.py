"""``python -m gateway`` is the ``avrr`` command."""

from gateway.surfaces.cli.main import main

main()
