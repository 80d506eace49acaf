"""The HTTP client one node uses to deliver envelopes to another and check the receipt.

The caller injects an ``httpx.Client`` (tests pass one wired to a second app, or mocked with
respx). Every failure becomes ``DeliveryFailed`` with a short outcome word for the attempt log;
the client never retries by itself: retry policy belongs to the outbox.

Example::

    >>> client = NodeClient(http=httpx.Client(timeout=10))                  # doctest: +SKIP
    >>> receipt = client.deliver(url, body, token)                          # doctest: +SKIP
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from partners.errors import DeliveryFailed
from schemas.envelope import SignedDocument

INBOX_PATH = "/federation/v1/inbox"


class NodeClient:
    def __init__(self, *, http: httpx.Client) -> None:
        self._http = http

    def deliver(self, inbox_url: str, body: bytes, token: str) -> SignedDocument:
        """POST an envelope body; return the recipient's signed receipt, still to be verified."""
        try:
            response = self._http.post(
                inbox_url,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise DeliveryFailed("timeout") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed("unreachable") from exc
        if response.status_code != 200:
            raise DeliveryFailed(f"http_{response.status_code}")
        try:
            return SignedDocument.model_validate_json(response.content)
        except ValidationError as exc:
            raise DeliveryFailed("malformed_receipt") from exc
