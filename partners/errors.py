"""Errors of the federation layer. They know nothing of HTTP."""

from __future__ import annotations


class DirectoryError(Exception):
    """The directory cannot be trusted or used: unsigned, stale, rolled back, malformed."""


class UnknownNode(DirectoryError):
    """The directory lists no such node."""


class NoUsableKey(DirectoryError):
    """The directory lists no key of that kind valid at the time asked for."""


class InvalidNodeToken(Exception):
    """A node-to-node bearer token failed a check. The reason is for the local log only."""


class DeliveryFailed(Exception):
    """A delivery attempt did not end with a verified receipt.

    ``outcome`` is a short machine word for the attempt log (``unreachable``, ``timeout``,
    ``http_500``, ``bad_receipt``); it never contains packet content.
    """

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome
