"""The FastAPI service of a node: routes, authentication, storage, outbox and inbox, CLI.

``gateway.app.create_app(settings)`` builds a node; ``avrr`` (``gateway.cli``) operates one.
"""
