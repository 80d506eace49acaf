"""The FastAPI service of a node: routes, authentication, storage, outbox and inbox, CLI.

``gateway.surfaces.app.create_app(settings)`` builds a node; ``avrr`` (``gateway.cli``) operates one.
"""
