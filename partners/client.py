"""The HTTP client one node uses to deliver envelopes to another and check the receipt.

The caller injects an ``httpx.Client`` (tests pass one wired to a second app, or mocked with
respx). Every failure becomes ``DeliveryFailed`` with a short outcome word for the attempt log;
the client never retries by itself: retry policy belongs to the outbox.

Example::

    >>> client = NodeClient(http=httpx.Client(timeout=10))                  # doctest: +SKIP
    >>> receipt = client.deliver(url, body, token)                          # doctest: +SKIP
    >>> answer = client.deliver_batch(batch_url, batch_body, token)         # doctest: +SKIP

A batch (``avrr-batch/1``) goes to ``BATCH_INBOX_PATH``; a node that does not know that route
(an older version: 404 or 405) or finds the batch too large (413) answers with one of
``BATCH_REFUSED``, and the caller posts the envelopes one by one instead.
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from partners.errors import DeliveryFailed
from schemas.envelope import BatchAnswer, PickupAckResult, PickupPage, SignedDocument

INBOX_PATH = "/federation/v1/inbox"
BATCH_INBOX_PATH = "/federation/v1/inbox/batch"
#: Where a pickup member fetches what waits for it, and acknowledges it (docs/protocol.md, 6b).
PICKUP_PATH = "/federation/v1/pickup"
PICKUP_ACK_PATH = "/federation/v1/pickup/ack"
#: Outcomes of a batch post that say "send these one by one": an older node without the batch
#: route, or a batch over the recipient's body limit.
BATCH_REFUSED = frozenset({"http_404", "http_405", "http_413"})


class NodeClient:
    def __init__(self, *, http: httpx.Client) -> None:
        self._http = http

    def deliver(self, inbox_url: str, body: bytes, token: str) -> SignedDocument:
        """POST an envelope body; return the recipient's signed receipt, still to be verified."""
        response = self._post(inbox_url, body, token)
        try:
            return SignedDocument.model_validate_json(response.content)
        except ValidationError as exc:
            raise DeliveryFailed("malformed_receipt") from exc

    def deliver_batch(self, batch_url: str, body: bytes, token: str) -> BatchAnswer:
        """POST a batch body; return the recipient's answer, its batch receipt still to be
        verified."""
        response = self._post(batch_url, body, token)
        try:
            return BatchAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise DeliveryFailed("malformed_receipt") from exc

    def pickup(self, pickup_url: str, body: bytes, token: str) -> PickupPage:
        """POST a pickup request to a sender; the envelopes waiting for us, still to be
        verified one by one."""
        response = self._post(pickup_url, body, token)
        try:
            return PickupPage.model_validate_json(response.content)
        except ValidationError as exc:
            raise DeliveryFailed("malformed_page") from exc

    def acknowledge(self, ack_url: str, body: bytes, token: str) -> PickupAckResult:
        """POST our answers to what we picked up."""
        response = self._post(ack_url, body, token)
        try:
            return PickupAckResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise DeliveryFailed("malformed_receipt") from exc

    def _post(self, url: str, body: bytes, token: str) -> httpx.Response:
        try:
            response = self._http.post(
                url,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise DeliveryFailed("timeout") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed("unreachable") from exc
        if response.status_code != 200:
            raise DeliveryFailed(f"http_{response.status_code}")
        return response
