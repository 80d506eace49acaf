"""The kit: what every layer of the gateway stands on, knowing nothing of the domain above.

The database and its unit of work (``db``), errors with their HTTP status (``errors``), the
clock, the node's settings, home folder, keys and key store, data sealed at rest (``at_rest``),
staff authentication (``auth``), idempotent create calls, body-size limits and periodic jobs.
Nothing here imports another layer of ``gateway``.
"""
