"""Seed inputs and dictionaries for the harnesses, made at run time from the vectors.

Seeds are the known-answer vectors' positive and negative cases (``tests/vectors``), in the
harness's plain form and, where the parts can be recovered, in its ``SIGNED`` form
(``tests.fuzz.targets``), plus a few made here from the synthetic federation: tokens issued with
``partners.tokens.issue_node_token``, envelopes of the other kinds, directories that are expired,
from the future, rolled back or break a protection rule. Nothing is committed but this code; the
corpus lives in a temporary folder.

The dictionary holds the words the formats are made of (member names, every enum value, format
and suite strings, the synthetic node and key ids, times, JSON punctuation, base64url of JSON
openings), so mutations can build structure rather than wait for it byte by byte.

Example::

    >>> any(seed.startswith(SIGNED) for seed in envelope_seeds())        # doctest: +SKIP
    True
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import header_bytes
from crypto.keys import EncryptionKey, SigningKey
from crypto.signed import sign_document
from partners.default_policy import default_retention
from partners.directory import DIRECTORY_CONTEXT, key_record, sign_directory
from partners.tokens import MAX_TTL, issue_node_token
from schemas import common, consent, directory, envelope, followup, status
from schemas.audit import AccessNoticeContent, NoticedAccess
from schemas.consent import RevocationContent, RevokedPacket
from schemas.directory import DeliveryMode, Directory, NodeRecord, RetentionEvent
from schemas.envelope import EnvelopeHeader, MessageKind
from schemas.followup import NoteContent
from schemas.status import StatusPacket, StatusUpdateContent
from tests.fuzz.federation import (
    ATTACKER,
    BUNDLE_VECTORS,
    DIRECTORY,
    ENVELOPE_VECTORS,
    HOST_ID,
    MIN_SERIAL,
    NOW,
    OPERATOR,
    PARTNER_ID,
    PARTNER_SIGNING,
    RECIPIENT,
    SENDER,
)
from tests.fuzz.targets import PART, SIGNED

POSITIVE: dict[str, Any] = ENVELOPE_VECTORS["positive"]
POSITIVE_HEADER = b64decode(POSITIVE["header_b64url"])
POSITIVE_PLAINTEXT: bytes = POSITIVE["plaintext_utf8"].encode()
BUNDLE_POSITIVE: dict[str, Any] = BUNDLE_VECTORS["positive"]


def signed_seed(*parts: bytes) -> bytes:
    return SIGNED + PART.join(parts)


def _unpadded(text: str) -> bytes | None:
    """Decoded base64url, tolerating what a negative vector did to it; None if it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


# -- envelope ------------------------------------------------------------------------------------


def other_kinds() -> Iterator[tuple[bytes, bytes]]:
    """Header and plaintext of one envelope of each kind but referral, from the host."""
    packet_id = POSITIVE["header"]["packet_id"]
    earlier = NOW - timedelta(hours=1)
    contents: dict[MessageKind, tuple[list[str], BaseModel | None]] = {
        MessageKind.REVOCATION: (
            ["arrival"],
            RevocationContent(
                withdrawal_id="ab" * 16,
                packets=[RevokedPacket(packet_id=packet_id, sections=[common.SectionName.ARRIVAL])],
            ),
        ),
        MessageKind.STATUS_UPDATE: (
            [],
            StatusUpdateContent(
                event=RetentionEvent.ARRIVAL,
                occurred_at=earlier,
                packets=[StatusPacket(packet_id=packet_id)],
            ),
        ),
        MessageKind.ACCESS_NOTICE: (
            ["travel"],
            AccessNoticeContent(
                accesses=[
                    NoticedAccess(
                        packet_id=packet_id,
                        action="opened",
                        at=earlier,
                        actor_role="partner_officer",
                        sections=[common.SectionName.TRAVEL],
                    )
                ]
            ),
        ),
        MessageKind.NOTE: ([], NoteContent(text="Synthetic note.", packet_id=packet_id)),
    }
    for kind in MessageKind:
        if kind is MessageKind.REFERRAL:
            continue
        sections, content = contents.get(kind, ([], None))
        fields = {**POSITIVE["header"], "kind": kind.value, "sections": sections}
        fields.update(transfer_ground=None, section_delete_by=None, packet_id="cd" * 16)
        header = EnvelopeHeader.model_validate(fields)
        plaintext = b"{}" if content is None else content.model_dump_json().encode()
        yield header_bytes(header), plaintext


def envelope_seeds() -> Iterator[bytes]:
    """Inbox bodies: the vectors' positive and negative wires, as the canonical JSON a sender
    writes and, for the positive, with whitespace; and each one's header re-signed with the
    positive plaintext, and an envelope of each other kind, in the ``SIGNED`` form."""
    yield canonical_json(POSITIVE["wire"])
    yield json.dumps(POSITIVE["wire"], indent=1).encode()
    yield signed_seed(POSITIVE_HEADER, POSITIVE_PLAINTEXT)
    for case in ENVELOPE_VECTORS["negative"]:
        yield canonical_json(case["wire"])
        header = _unpadded(case["wire"].get("header", ""))
        if header is not None and header != POSITIVE_HEADER:
            yield signed_seed(header, POSITIVE_PLAINTEXT)
    for header, plaintext in other_kinds():
        yield signed_seed(header, plaintext)


# -- node token ----------------------------------------------------------------------------------


def _token_parts(token: str) -> tuple[bytes, bytes]:
    header, claims, _ = token.split(".")
    return b64decode(header), b64decode(claims)


def token_claims() -> tuple[bytes, bytes]:
    """The protected header and claims of a token the host issues for an empty body."""
    token = issue_node_token(
        key=SENDER, issuer=HOST_ID, audience=PARTNER_ID, body=b"", now=NOW, token_id="ef" * 16
    )
    return _token_parts(token)


def token_seeds() -> Iterator[bytes]:
    """Node tokens with their bodies: valid ones the host issues with ``issue_node_token``, and
    ones refused for their issuer's key, audience, age, lifetime or body; each also in the
    ``SIGNED`` form (protected header, claims, body) so the claims can change under a valid
    signature."""
    bodies = [canonical_json(POSITIVE["wire"]), b"", b"{}"]
    options: list[dict[str, Any]] = [
        {},
        {"ttl": MAX_TTL},
        {"ttl": MAX_TTL + timedelta(seconds=1)},
        {"now": NOW - timedelta(minutes=5)},
        {"now": NOW + timedelta(minutes=5)},
        {"audience": HOST_ID},
        {"token_id": "short"},
        {"key": ATTACKER},
        {"key": PARTNER_SIGNING},
        {"key": PARTNER_SIGNING, "issuer": PARTNER_ID},
    ]
    for number, changes in enumerate(options):
        for body in bodies:
            arguments: dict[str, Any] = {
                "key": SENDER,
                "issuer": HOST_ID,
                "audience": PARTNER_ID,
                "body": body,
                "now": NOW,
                "token_id": f"{number:032x}",
                **changes,
            }
            token = issue_node_token(**arguments)
            yield token.encode("ascii") + b"\n" + body
            yield signed_seed(*_token_parts(token), body)
    header, claims = token_claims()
    stated = json.loads(claims)
    for change in (
        {"aud": [PARTNER_ID]},
        {"nbf": stated["iat"]},
        {"iat": float(stated["iat"])},
        {"exp": True},
        {"jti": 1},
        {"iss": PARTNER_ID},
        {"body": None},
    ):
        yield signed_seed(header, json.dumps({**stated, **change}).encode(), b"")
    yield signed_seed(b'{"alg":"none","kid":"' + SENDER.key_id.encode() + b'"}', claims, b"")


# -- directory -----------------------------------------------------------------------------------


def _third_node() -> NodeRecord:
    """A pickup member with a region, so the seeds cover every optional member of a node."""
    signing = SigningKey(
        bytes(range(0xC0, 0xE0)), NOW - timedelta(days=30), NOW + timedelta(days=300)
    )
    encryption = EncryptionKey(
        bytes(range(0xE0, 0x100)), NOW - timedelta(days=30), NOW + timedelta(days=300)
    )
    return NodeRecord(
        node_id="transit.example",
        organisation="Transit Office (synthetic)",
        country="ML",
        region="ML-7",
        roles=[common.PartnerRole.TRANSIT_OFFICE],
        delivery=DeliveryMode.PICKUP,
        signing_keys=[key_record(signing.public_key())],
        encryption_keys=[key_record(encryption.public_key())],
    )


def _payloads() -> Iterator[dict[str, Any]]:
    """Directory payloads: the one nodes trust, a fuller one, and ones a node must refuse."""
    trusted = DIRECTORY.model_dump(mode="json")
    yield trusted
    full = DIRECTORY.model_copy(
        update={
            "nodes": [*DIRECTORY.nodes, _third_node()],
            "suspended_countries": ["ER"],
            "suspended_regions": ["SN-DK"],
            "retention": default_retention(),
            "event_horizon_days": {RetentionEvent.ARRIVAL: 30},
        }
    )
    yield Directory.model_validate(full.model_dump()).model_dump(mode="json")
    yield {**trusted, "expires_at": "2026-03-02T10:30:00Z"}
    yield {**trusted, "issued_at": "2026-03-02T10:36:00Z", "expires_at": "2026-05-01T00:00:00Z"}
    yield {**trusted, "serial": MIN_SERIAL - 1}
    yield {
        **trusted,
        "sharing_policy": [{**trusted["sharing_policy"][0], "role": "law_enforcement"}],
    }
    yield {
        **trusted,
        "sharing_policy": [
            {
                "role": "government_authority",
                "purpose": "medical_escort",
                "sections": {"medical": ["diagnosis"]},
            }
        ],
    }
    node = trusted["nodes"][0]
    record = {**node["signing_keys"][0], "key_id": RECIPIENT.key_id[::-1]}
    yield {**trusted, "nodes": [{**node, "signing_keys": [record]}, *trusted["nodes"][1:]]}


def directory_seeds() -> Iterator[bytes]:
    """Signed directory documents as a node reads them (the file, written indented, and the
    compact response), signed by the operator, and the payloads alone in the ``SIGNED`` form;
    and the trusted one signed by a key that is not pinned."""
    for payload in _payloads():
        document = sign_document(payload, OPERATOR, context=DIRECTORY_CONTEXT)
        yield document.model_dump_json(indent=2).encode()
        yield signed_seed(canonical_json(payload))
    yield sign_directory(DIRECTORY, OPERATOR).model_dump_json().encode()
    yield sign_directory(DIRECTORY, ATTACKER).model_dump_json().encode()
    forged = sign_directory(DIRECTORY, ATTACKER).model_copy(update={"key_id": OPERATOR.key_id})
    yield forged.model_dump_json().encode()


# -- bundle --------------------------------------------------------------------------------------


def bundle_seeds() -> Iterator[bytes]:
    """Bundle files: the vectors' positive and negative ones; and the positive's header and
    content, an empty bundle's and each negative's header with the positive content, in the
    ``SIGNED`` form."""
    header = b64decode(BUNDLE_POSITIVE["header_b64url"])
    content: bytes = BUNDLE_POSITIVE["content_utf8"].encode()
    yield BUNDLE_POSITIVE["file_utf8"].encode()
    yield signed_seed(header, content)
    empty = {**BUNDLE_POSITIVE["header"], "envelopes": 0, "answers": 0}
    yield signed_seed(canonical_json(empty), b'{"answers":[],"envelopes":[]}')
    for case in BUNDLE_VECTORS["negative"]:
        file = (
            case["file_utf8"].encode()
            if "file_utf8" in case
            else base64.urlsafe_b64decode(case["file_b64url"] + "==")
        )
        yield file
        try:
            stated = json.loads(file)
            other = _unpadded(stated["header"])
        except (ValueError, KeyError, TypeError):
            continue
        if other is not None and other != header:
            yield signed_seed(other, content)


# -- dictionary ----------------------------------------------------------------------------------

_MODELS: tuple[type[BaseModel], ...] = (
    envelope.EnvelopeHeader,
    envelope.WireEnvelope,
    envelope.SignedDocument,
    envelope.BundleHeader,
    envelope.BundleContent,
    envelope.CarriedAnswer,
    envelope.DeliveryReceipt,
    directory.Directory,
    directory.NodeRecord,
    directory.KeyRecord,
    directory.SharingRule,
    directory.RetentionRule,
    consent.RevocationContent,
    consent.RevokedPacket,
    status.StatusUpdateContent,
    status.StatusPacket,
    followup.NoteContent,
    AccessNoticeContent,
    NoticedAccess,
)
_ENUM_MODULES = (common, directory, envelope, consent, status, followup)
_WORDS = (
    "{",
    "}",
    "[",
    "]",
    '":"',
    '","',
    '":',
    ',"',
    "null",
    "true",
    "false",
    '""',
    "0",
    "-1",
    "1.0",
    "1e3",
    "-0",
    "NaN",
    "Infinity",
    "9007199254740992",
    "18446744073709551616",
    "\\u0000",
    "\\ud800",
    '\\"',
    "\u00e9",
    "\ufeff",
    "2026-03-02T10:30:00Z",
    "2026-03-02T10:30:00+00:00",
    "2026-03-02T10:30:00.5Z",
    # Times at the ends of what a datetime holds, in UTC and with offsets that cross them.
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "+23:59",
    "-23:59",
    "+00:00",
    "https://",
    "http://127.0.0.1/",
    "alg",
    "kid",
    "typ",
    "crit",
    "jwk",
    "b64",
    "iss",
    "aud",
    "iat",
    "exp",
    "nbf",
    "jti",
    "body",
    "Ed25519",
    "EdDSA",
    "none",
    "HS256",
    "JWT",
    "avrr-directory/1",
)


def _enum_values() -> Iterator[str]:
    for module in _ENUM_MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum:
                yield from (member.value for member in value)


def dictionary_words() -> list[bytes]:
    """The words of every format the harnesses read, each at most 64 bytes (libFuzzer's limit)."""
    words: set[str] = set(_WORDS) | set(_enum_values())
    for model in _MODELS:
        words.update(f'"{name}":' for name in model.model_fields)
    words.update({HOST_ID, PARTNER_ID, SENDER.key_id, RECIPIENT.key_id, OPERATOR.key_id})
    words.update({envelope.ENVELOPE_FORMAT, envelope.BUNDLE_FORMAT, envelope.SUITE})
    encoded: set[bytes] = {word.encode("utf-8", "surrogatepass") for word in words}
    # Openings of JSON in base64url, as headers, claims and payloads travel.
    encoded.update(b64encode(text).encode() for text in (b'{"', b"[[[", b"{}", b"[]", b'""'))
    return sorted(word for word in encoded if 0 < len(word) <= 64)
