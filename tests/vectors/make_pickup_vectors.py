"""Regenerate ``tests/vectors/pickup-v1.json``, the known-answer vectors of the pickup call
(``avrr-pickup/1`` and ``avrr-pickup-ack/1``) and of the node tokens that authenticate it.

Run from the project root::

    .venv/bin/python tests/vectors/make_pickup_vectors.py            # rewrite the file
    .venv/bin/python tests/vectors/make_pickup_vectors.py --check    # exit 1 if the file differs

The keys, nodes and envelope are those of ``envelope-v1.json`` (``make_vectors.py``). The sender
is the host mission; the member is the reception partner, listed in the vector's directory with
``delivery: pickup`` and no inbox URL. At the fixed ``now`` the member posts a pickup request to
the host with a node token signed by its signing key (``recipient_signing``); the host's page
hands out the positive envelope of ``envelope-v1.json``; the member acknowledges it with that
file's receipt (its signed document), under a second token.

Nothing here is sealed: the envelope and the receipt are taken from ``envelope-v1.json`` as they
are stored, and everything else (tokens, bodies, digests, signatures) follows from fixed inputs,
with Ed25519 (RFC 8032) deterministic, so a regenerated file is identical byte for byte.
``--reseal`` is accepted for the shared command line and changes nothing. The expected status or
outcome of every negative case is written here by hand, from the checks of ``docs/protocol.md``
(section 7 for tokens, and what ``gateway.exchange.pickup`` answers); it is never computed by
running the code under test. ``tests/gateway/exchange/test_pickup_vectors.py`` checks the file.

No value is real: the keys are counting bytes, the nodes are ``.example`` names.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.signed import sign_document
from partners.client import PICKUP_ACK_PATH, PICKUP_PATH
from partners.directory import key_record
from partners.tokens import DEFAULT_TTL, issue_node_token
from schemas.common import PartnerRole, Purpose
from schemas.directory import DeliveryMode, Directory, NodeRecord, SharingRule
from schemas.envelope import (
    MAX_PICKUP_PAGE,
    PICKUP_ACK_FORMAT,
    PICKUP_FORMAT,
    RECEIPT_FORMAT,
)

PATH = Path(__file__).with_name("pickup-v1.json")


def _envelope_vectors() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_vectors", Path(__file__).with_name("make_vectors.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


V = _envelope_vectors()

# --- Fixed inputs. All synthetic. -----------------------------------------------------------

SENDER: str = V.SENDER
MEMBER: str = V.RECIPIENT
#: The sender's clock when both calls arrive (the envelope vectors' receiver time: the member
#: picks the envelope up, stores it and acknowledges it within that second).
NOW: datetime = V.NOW
PAGE_SIZE = 16
#: The member's key for its node tokens (and its receipts).
MEMBER_KEY = "recipient_signing"
KEY_NAMES = (
    "sender_signing",
    "other_encryption",
    "recipient_signing",
    "recipient_encryption",
    "attacker_signing",
)
HOST_INBOX = "https://host-mission.example"
OTHER_NODE = "other-node.example"
UNLISTED = "other-partner.example"
FOREIGN_ID = bytes(range(0xF0, 0x100)).hex()
OTHER_DIGEST = "cd" * 32
#: The leeway of ``crypto.jwt.verify_jwt`` (docs/protocol.md, section 7).
LEEWAY = timedelta(seconds=30)
DIRECTORY_ISSUED = datetime(2026, 3, 1, tzinfo=UTC)
DIRECTORY_EXPIRES = datetime(2026, 4, 1, tzinfo=UTC)


def token_id(number: int) -> str:
    """The ``jti`` of the n-th token of the file: that byte sixteen times, in hex."""
    return f"{number:02x}" * 16


def the_directory() -> Directory:
    """Both nodes as the directory lists them: the host pushed to, the member picking up."""
    host = NodeRecord.model_validate(
        {
            "node_id": SENDER,
            "organisation": "Host Mission (synthetic)",
            "country": "DE",
            "roles": [PartnerRole.HOST_MISSION],
            "delivery": DeliveryMode.PUSH,
            "inbox_url": HOST_INBOX,
            "signing_keys": [key_record(V.signing_key("sender_signing").public_key())],
            "encryption_keys": [key_record(V.encryption_key("other_encryption").public_key())],
        }
    )
    member = NodeRecord(
        node_id=MEMBER,
        organisation="Reception Partner (synthetic)",
        country="SN",
        roles=[PartnerRole.RECEPTION_PARTNER],
        delivery=DeliveryMode.PICKUP,
        signing_keys=[key_record(V.signing_key("recipient_signing").public_key())],
        encryption_keys=[key_record(V.encryption_key("recipient_encryption").public_key())],
    )
    # The one rule the envelope needs: the sender decides again at each hand-out, and this
    # rule lets the referral's sections and fields go to a reception partner.
    rule = SharingRule.model_validate(
        {
            "role": PartnerRole.RECEPTION_PARTNER.value,
            "purpose": Purpose.ARRIVAL_RECEPTION.value,
            "sections": {name: sorted(fields) for name, fields in V.CONTENT.items()},
        }
    )
    return Directory(
        federation_id="vectors.example",
        serial=1,
        issued_at=DIRECTORY_ISSUED,
        expires_at=DIRECTORY_EXPIRES,
        nodes=[host, member],
        sharing_policy=[rule],
    )


def token(
    body: bytes,
    number: int,
    *,
    key: str = MEMBER_KEY,
    issuer: str = MEMBER,
    audience: str = SENDER,
    now: datetime = NOW,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """A node token as the reference member issues it (``partners.tokens``)."""
    compact: str = issue_node_token(
        key=V.signing_key(key),
        issuer=issuer,
        audience=audience,
        body=body,
        now=now,
        token_id=token_id(number),
        ttl=ttl,
    )
    return compact


def token_entry(body: bytes, number: int) -> dict[str, Any]:
    """The member's token for ``body``, part by part, each part checked against the protocol
    (section 7) rather than taken from the library that wrote it."""
    key = V.signing_key(MEMBER_KEY)
    compact = token(body, number)
    header_part, claims_part, signature_part = compact.split(".")
    header_bytes, claims_bytes = b64decode(header_part), b64decode(claims_part)
    header = json.loads(header_bytes)
    claims = json.loads(claims_bytes)
    issued = int(NOW.timestamp())
    assert header == {"typ": "JWT", "alg": "Ed25519", "kid": key.key_id}
    assert claims == {
        "iss": MEMBER,
        "aud": SENDER,
        "iat": issued,
        "exp": issued + int(DEFAULT_TTL.total_seconds()),
        "jti": token_id(number),
        "body": hashlib.sha256(body).hexdigest(),
    }
    signing_input = f"{header_part}.{claims_part}".encode("ascii")
    assert key.sign(signing_input) == b64decode(signature_part)
    return {
        "signer": MEMBER_KEY,
        "header": header,
        "header_utf8": header_bytes.decode("ascii"),
        "claims": claims,
        "claims_utf8": claims_bytes.decode("ascii"),
        "signing_input_utf8": signing_input.decode("ascii"),
        "signature_b64url": signature_part,
        "compact": compact,
    }


def signed_by_another_key(body: bytes, number: int) -> str:
    """A token whose header names the member's key but whose signature is the attacker's."""
    header_part, claims_part, _ = token(body, number).split(".")
    signing_input = f"{header_part}.{claims_part}".encode("ascii")
    signature = V.signing_key("attacker_signing").sign(signing_input)
    return f"{header_part}.{claims_part}.{b64encode(signature)}"


def the_receipt_document() -> dict[str, Any]:
    stored = V.load()
    if stored is None:
        raise SystemExit("run make_vectors.py first: pickup reuses its envelope and receipt")
    document: dict[str, Any] = stored["receipt"]["document"]
    return document


def the_positive() -> tuple[dict[str, str], str, str]:
    """The positive envelope of envelope-v1.json: its wire object, packet id and digest."""
    stored = V.load()
    if stored is None:
        raise SystemExit("run make_vectors.py first: pickup reuses its envelope and receipt")
    positive = stored["positive"]
    return positive["wire"], positive["header"]["packet_id"], positive["envelope_sha256"]


def ack_value(answers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"answers": answers, "format": PICKUP_ACK_FORMAT}


class _Cases:
    """The negative cases: requests the sender refuses, and answers it does not record as
    delivered. Each token has its own ``jti``, numbered from ``first``."""

    def __init__(self, request: bytes, first: int) -> None:
        self.request = request
        self.number = first
        self.refused: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    def next_id(self) -> int:
        self.number += 1
        return self.number - 1

    def refuse(
        self, name: str, description: str, body: bytes, bearer: str | None, status: int
    ) -> None:
        self.refused.append(
            {
                "name": name,
                "description": description,
                "path": PICKUP_PATH,
                "body_utf8": body.decode("ascii"),
                "token": bearer,
                "expected": status,
            }
        )

    def answer(self, name: str, description: str, answer: dict[str, Any], outcome: str) -> None:
        value = ack_value([answer])
        data = canonical_json(value)
        self.answers.append(
            {
                "name": name,
                "description": description,
                "path": PICKUP_ACK_PATH,
                "body": value,
                "body_utf8": data.decode("ascii"),
                "token": token(data, self.next_id()),
                "expected": outcome,
                "result": {"format": PICKUP_ACK_FORMAT, "outcomes": [outcome]},
            }
        )


def _token_cases(c: _Cases) -> None:
    body = c.request
    c.refuse(
        "without_token",
        "the request without an Authorization header",
        body,
        None,
        401,
    )
    c.refuse(
        "audience_another_node",
        f"the member's token with aud {OTHER_NODE!r}, not the sender",
        body,
        token(body, c.next_id(), audience=OTHER_NODE),
        401,
    )
    larger = canonical_json({"format": PICKUP_FORMAT, "limit": MAX_PICKUP_PAGE})
    c.refuse(
        "body_hash_of_another_body",
        f"the member's token for the body {larger.decode('ascii')}, sent with this body",
        body,
        token(larger, c.next_id()),
        401,
    )
    issued = NOW - DEFAULT_TTL - LEEWAY
    c.refuse(
        "expired",
        f"the member's token issued at {V._time(issued)}, so exp is now minus the 30 seconds of"
        " leeway; a token whose exp is now itself is still accepted, within the leeway",
        body,
        token(body, c.next_id(), now=issued),
        401,
    )
    ahead = NOW + LEEWAY + timedelta(seconds=1)
    c.refuse(
        "issued_in_the_future",
        f"the member's token issued at {V._time(ahead)}, beyond the 30 seconds of leeway",
        body,
        token(body, c.next_id(), now=ahead),
        401,
    )
    c.refuse(
        "lives_longer_than_120_seconds",
        "the member's token with exp = iat + 121",
        body,
        token(body, c.next_id(), ttl=timedelta(seconds=121)),
        401,
    )
    c.refuse(
        "issuer_not_in_the_directory",
        f"a token from {UNLISTED!r}, which the directory does not list, signed with"
        " keys.attacker_signing",
        body,
        token(body, c.next_id(), key="attacker_signing", issuer=UNLISTED),
        401,
    )
    c.refuse(
        "signed_by_another_key",
        "the member's token, its header naming the member's key, signed with keys.attacker_signing",
        body,
        signed_by_another_key(body, c.next_id()),
        401,
    )
    c.refuse(
        "key_not_listed_for_the_issuer",
        "a token naming the member as issuer, signed with keys.attacker_signing and naming"
        " that key, which the directory does not list for the member",
        body,
        token(body, c.next_id(), key="attacker_signing"),
        401,
    )


def _body_cases(c: _Cases) -> None:
    bodies = [
        ("format_wrong", "format 'avrr-pickup/2'", {"format": "avrr-pickup/2", "limit": 16}),
        ("format_missing", "no member 'format'", {"limit": 16}),
        ("limit_zero", "limit 0", {"format": PICKUP_FORMAT, "limit": 0}),
        (
            "limit_over_the_page",
            f"limit {MAX_PICKUP_PAGE + 1}, one more than a page may hold",
            {"format": PICKUP_FORMAT, "limit": MAX_PICKUP_PAGE + 1},
        ),
        (
            "unknown_member",
            "a member 'note' the request does not have",
            {"format": PICKUP_FORMAT, "limit": 16, "note": "x"},
        ),
    ]
    for name, change, value in bodies:
        data = canonical_json(value)
        c.refuse(
            f"request_{name}",
            f"the request with {change}, under a valid token of the member for these bytes",
            data,
            token(data, c.next_id()),
            422,
        )


def _answer_cases(c: _Cases, packet_id: str, digest: str) -> None:
    genuine = the_receipt_document()
    stored = V.load()
    assert stored is not None
    payload = stored["receipt"]["payload"]
    c.answer(
        "refused_by_the_member",
        "the member refused the envelope: answer null; the sender records the refusal and hands"
        " the envelope out again after a backoff",
        {"answer": None, "envelope_sha256": digest, "packet_id": packet_id},
        "recorded",
    )
    wrong_signer = sign_document(payload, V.signing_key("sender_signing"), context=RECEIPT_FORMAT)
    c.answer(
        "receipt_signed_by_the_wrong_node",
        "the receipt's payload signed with keys.sender_signing, the sender's own key, not the"
        " member's",
        {
            "answer": wrong_signer.model_dump(),
            "envelope_sha256": digest,
            "packet_id": packet_id,
        },
        "bad_receipt",
    )
    other = sign_document(
        {**payload, "envelope_sha256": OTHER_DIGEST},
        V.signing_key(MEMBER_KEY),
        context=RECEIPT_FORMAT,
    )
    c.answer(
        "receipt_names_another_envelope",
        f"a receipt signed by the member that names the digest {OTHER_DIGEST[:8]}..., not the"
        " envelope handed out",
        {"answer": other.model_dump(), "envelope_sha256": digest, "packet_id": packet_id},
        "bad_receipt",
    )
    c.answer(
        "unknown_packet",
        f"the genuine receipt, under packet id {FOREIGN_ID}, which nothing waiting for the"
        " member has",
        {"answer": genuine, "envelope_sha256": digest, "packet_id": FOREIGN_ID},
        "unknown",
    )
    c.answer(
        "digest_does_not_match",
        f"the genuine receipt, under the envelope's packet id with the digest {OTHER_DIGEST[:8]}"
        "...: the sender matches the packet id and the digest before it reads the answer",
        {"answer": genuine, "envelope_sha256": OTHER_DIGEST, "packet_id": packet_id},
        "unknown",
    )


BUILDERS: list[Callable[[_Cases], None]] = [_token_cases, _body_cases]

PROCEDURE = [
    "token: the request carries 'Authorization: Bearer <token>'; the token must verify as in"
    " docs/protocol.md section 7 against the directory, with the sender's node id as audience"
    " and the exact body bytes, at now (30 seconds of leeway); its jti must not have been"
    " accepted before (the sender remembers it until exp). Otherwise 401, before the body is read",
    "request: the body must be a pickup request: exactly the members format ('avrr-pickup/1')"
    f" and limit (an integer from 1 to {MAX_PICKUP_PAGE}; 16 if absent). Otherwise 422",
    "page: up to limit envelopes waiting for the token's issuer, oldest first, each decided"
    " again under the directory in force (past its deadline: dead-lettered; forbidden: cancelled)"
    " and handed out as the stored wire object, unchanged; 'more' says whether others wait."
    " An envelope handed out is held for the claim lease",
    "ack: a fresh token as above, for the ack's body; the body must be a pickup"
    f" acknowledgement: format 'avrr-pickup-ack/1' and 1 to {MAX_PICKUP_PAGE} answers, each"
    " exactly packet_id, envelope_sha256 and answer (a signed document, or null). Otherwise 422",
    "answers, each in turn: 'unknown' if no envelope with that packet id waits for the issuer or"
    " its digest differs; 'recorded' for answer null (the member refused it: retried after a"
    " backoff); otherwise the answer must verify as the answer to a post of that envelope (a"
    " delivery receipt: signed under avrr-receipt/1 by a signing key the directory lists for"
    " the member, valid at received_at, naming exactly the packet id, the sender, the member and"
    " the envelope digest): 'recorded' and delivered, else 'bad_receipt' (retried)",
]


def build(stored: dict[str, Any] | None, *, reseal: bool = False) -> dict[str, Any]:
    """The whole vector document. Nothing is sealed, so ``stored`` and ``reseal`` change
    nothing; they are the shared command line's."""
    del stored, reseal
    directory = the_directory()
    wire, packet_id, digest = the_positive()
    request = {"format": PICKUP_FORMAT, "limit": PAGE_SIZE}
    request_body = canonical_json(request)
    ack = ack_value(
        [{"answer": the_receipt_document(), "envelope_sha256": digest, "packet_id": packet_id}]
    )
    ack_body = canonical_json(ack)
    cases = _Cases(request_body, first=0x10)
    for builder in BUILDERS:
        builder(cases)
    _answer_cases(cases, packet_id, digest)
    names = [item["name"] for item in [*cases.refused, *cases.answers]]
    assert len(names) == len(set(names)), "negative case names must be unique"
    base = HOST_INBOX.rstrip("/")
    return {
        "description": (
            "Known-answer vectors of the pickup call, avrr-pickup/1 and avrr-pickup-ack/1"
            " (docs/protocol.md, section 6b), and of its node tokens (section 7). All data"
            " synthetic; keys, nodes, the envelope and its receipt are those of envelope-v1.json."
            " Regenerate with tests/vectors/make_pickup_vectors.py: every value is deterministic."
            " Bodies are given as JSON and as their exact UTF-8 text (*_utf8); times are UTC."
        ),
        "format": PICKUP_FORMAT,
        "ack_format": PICKUP_ACK_FORMAT,
        "keys": {name: V._key_entry(name) for name in KEY_NAMES},
        "sender": SENDER,
        "member": MEMBER,
        "now": V._time(NOW),
        "directory": directory.model_dump(mode="json"),
        "directory_note": (
            "the view both sides trust, as if verified under the operator's key (which these"
            " vectors do not need); the member's record has delivery 'pickup' and no inbox_url;"
            " the host's encryption key is keys.other_encryption, to which nothing here is sealed"
        ),
        "urls": {"pickup": base + PICKUP_PATH, "ack": base + PICKUP_ACK_PATH},
        "request": {
            "body": request,
            "body_utf8": request_body.decode("ascii"),
            "body_sha256": hashlib.sha256(request_body).hexdigest(),
            "token": token_entry(request_body, 1),
        },
        "page": {"envelopes": [wire], "format": PICKUP_FORMAT, "more": False},
        "page_from": ["envelope-v1.json: positive.wire"],
        "ack": {
            "body": ack,
            "body_utf8": ack_body.decode("ascii"),
            "body_sha256": hashlib.sha256(ack_body).hexdigest(),
            "answer_from": "envelope-v1.json: receipt.document",
            "token": token_entry(ack_body, 2),
        },
        "ack_result": {"format": PICKUP_ACK_FORMAT, "outcomes": ["recorded"]},
        "procedure": PROCEDURE,
        "negative": cases.refused,
        "negative_answers": cases.answers,
    }


def render(document: dict[str, Any]) -> str:
    rendered: str = V.render(document)
    return rendered


def load() -> dict[str, Any] | None:
    loaded: dict[str, Any] | None = V.load(PATH)
    return loaded


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.splitlines()[0] if __doc__ else None
    status: int = V.generator_main(
        argv, path=PATH, build=build, script="make_pickup_vectors.py", description=summary
    )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
