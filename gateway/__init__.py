"""The service of a node, in five layers (kit, records, exchange, processes, surfaces; see
``docs/architecture.md``).

``gateway.surfaces.app.create_app(settings)`` builds a node; ``avrr`` (``gateway.surfaces.cli``)
operates one.
"""
