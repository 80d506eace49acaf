"""The known-answer vectors in ``tests/vectors/pickup-v1.json`` against the pickup call.

At the function level: the request and acknowledgement bodies are the canonical JSON of valid
models, written byte for byte as the reference member writes them; the stored node tokens are
reissued byte for byte and verify (``partners.tokens.verify_node_token``) against a view of the
vector's directory at the vector's ``now``, for the sender and their own body only; every
negative token fails; every negative body fails its model; the receipts of the negative answers
do not verify.

Through the real app of a sender: a node ``host-mission.example`` whose clock stands at the
vector's ``now``, holding the vector's directory (its own record swapped for the node's own
keys: the member's tokens are checked with the member's keys, which the directory lists, so the
sender need not hold the vector's keys) and the vector's envelope waiting for the member. Every
negative request gets its stated status, the page is the vector's page, every negative answer
gets its stated outcome, and the vector's acknowledgement delivers the envelope with the
vector's receipt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError
from sqlalchemy import select

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.keys import EncryptionKey, SigningKey
from gateway.exchange.outbox.models import (
    DeliveryAttemptRow,
    DeliveryReceiptRow,
    OutboxRow,
    OutboxStatus,
)
from partners.client import PICKUP_ACK_PATH, PICKUP_PATH
from partners.directory import FederationView, key_record, with_node
from partners.errors import DeliveryFailed, InvalidNodeToken
from partners.receipts import verify_delivery_receipt
from partners.tokens import MAX_TTL, NodeTokenClaims, issue_node_token, verify_node_token
from schemas.common import PartnerRole
from schemas.directory import DeliveryMode, Directory, NodeRecord
from schemas.envelope import (
    PICKUP_ACK_FORMAT,
    PICKUP_FORMAT,
    CarriedAnswer,
    PickupAck,
    PickupAckResult,
    PickupPage,
    PickupRequest,
    SignedDocument,
)
from tests.support.clock import FakeClock
from tests.support.federation import TestFederation, TestNode

VECTORS_DIR = Path(__file__).resolve().parents[2] / "vectors"
VECTORS: dict[str, Any] = json.loads((VECTORS_DIR / "pickup-v1.json").read_text("utf-8"))
ENVELOPES: dict[str, Any] = json.loads((VECTORS_DIR / "envelope-v1.json").read_text("utf-8"))
NEGATIVE: list[dict[str, Any]] = VECTORS["negative"]
NEGATIVE_ANSWERS: list[dict[str, Any]] = VECTORS["negative_answers"]
NOW = datetime.fromisoformat(VECTORS["now"])
SENDER: str = VECTORS["sender"]
MEMBER: str = VECTORS["member"]
REQUEST_BODY = VECTORS["request"]["body_utf8"].encode("ascii")
ACK_BODY = VECTORS["ack"]["body_utf8"].encode("ascii")
POSITIVE: dict[str, Any] = ENVELOPES["positive"]
PACKET_ID: str = POSITIVE["header"]["packet_id"]
DIGEST: str = POSITIVE["envelope_sha256"]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_pickup_vectors", VECTORS_DIR / "make_pickup_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _signing(name: str) -> SigningKey:
    entry = VECTORS["keys"][name]
    return SigningKey(
        bytes.fromhex(entry["seed_hex"]),
        datetime.fromisoformat(entry["valid_from"]),
        datetime.fromisoformat(entry["valid_until"]),
    )


def _view() -> FederationView:
    view = FederationView(Directory.model_validate(VECTORS["directory"]))
    view.check_keys()
    return view


def _verify(token: str, body: bytes) -> NodeTokenClaims:
    """The sender's token check of the vector file, as ``caller_token`` makes it."""
    return verify_node_token(token, view=_view(), audience=SENDER, body=body, now=NOW)


def _name(item: dict[str, Any]) -> str:
    return str(item["name"])


def _listing_the_attacker(node_id: str) -> FederationView:
    """The vector's directory, with the attacker's signing key listed for ``node_id`` (a node
    added if the directory does not list it)."""
    directory = Directory.model_validate(VECTORS["directory"])
    attacker = key_record(_signing("attacker_signing").public_key())
    listed = directory.node(node_id)
    if listed is not None:
        record = listed.model_copy(update={"signing_keys": [*listed.signing_keys, attacker]})
    else:
        seed = bytes(range(0xE0, 0x100))
        own = EncryptionKey(seed, attacker.valid_from, attacker.valid_until).public_key()
        record = NodeRecord(
            node_id=node_id,
            organisation="Unlisted Partner (synthetic)",
            country="SN",
            roles=[PartnerRole.RECEPTION_PARTNER],
            delivery=DeliveryMode.PICKUP,
            signing_keys=[attacker],
            encryption_keys=[key_record(own)],
        )
    return FederationView(with_node(directory, record))


#: For each negative token: the one change to the sender's check under which it would verify.
UNDONE: dict[str, Any] = {
    "audience_another_node": lambda: {"audience": "other-node.example"},
    "body_hash_of_another_body": lambda: {
        "body": canonical_json({"format": PICKUP_FORMAT, "limit": 50})
    },
    "expired": lambda: {"now": NOW - timedelta(seconds=60)},
    "issued_in_the_future": lambda: {"now": NOW + timedelta(seconds=31)},
    "issuer_not_in_the_directory": lambda: {"view": _listing_the_attacker("other-partner.example")},
    "key_not_listed_for_the_issuer": lambda: {"view": _listing_the_attacker(MEMBER)},
}


class TestVectorFile:
    def test_the_generator_check_passes(self) -> None:
        assert _load_generator().main(["--check"]) == 0

    def test_script_regenerates_the_stored_file_byte_for_byte(self) -> None:
        generator = _load_generator()
        stored = (VECTORS_DIR / "pickup-v1.json").read_text("utf-8")
        assert generator.render(generator.build(generator.load())) == stored

    def test_keys_are_those_of_the_envelope_vectors(self) -> None:
        for name, entry in VECTORS["keys"].items():
            assert entry == ENVELOPES["keys"][name]

    def test_negative_names_are_unique(self) -> None:
        names = [item["name"] for item in [*NEGATIVE, *NEGATIVE_ANSWERS]]
        assert len(names) == len(set(names))

    def test_the_requested_refusals_are_covered(self) -> None:
        assert {item["name"] for item in NEGATIVE} >= {
            "audience_another_node",
            "body_hash_of_another_body",
            "expired",
            "issuer_not_in_the_directory",
            "signed_by_another_key",
            "request_format_wrong",
            "request_limit_zero",
            "request_limit_over_the_page",
            "request_unknown_member",
        }
        assert {item["expected"] for item in NEGATIVE} == {401, 422}
        assert {item["expected"] for item in NEGATIVE_ANSWERS} == {
            "recorded",
            "bad_receipt",
            "unknown",
        }


class TestDirectory:
    def test_the_member_picks_up_and_has_no_inbox(self) -> None:
        member = _view().node(MEMBER)
        assert member.delivery is DeliveryMode.PICKUP
        assert member.inbox_url is None
        keys = VECTORS["keys"]
        assert [k.key_id for k in member.signing_keys] == [keys["recipient_signing"]["key_id"]]

    def test_the_sender_is_pushed_to_and_is_called_at_its_inbox_url(self) -> None:
        host = _view().node(SENDER)
        assert host.delivery is DeliveryMode.PUSH
        base = str(host.inbox_url).rstrip("/")
        assert VECTORS["urls"] == {"pickup": base + PICKUP_PATH, "ack": base + PICKUP_ACK_PATH}

    def test_the_attacker_is_not_listed(self) -> None:
        listed = {k.key_id for n in _view().directory.nodes for k in n.signing_keys}
        assert VECTORS["keys"]["attacker_signing"]["key_id"] not in listed


class TestRequest:
    def test_body_is_the_canonical_json_of_a_valid_pickup_request(self) -> None:
        request = PickupRequest.model_validate_json(REQUEST_BODY)
        assert (request.format, request.limit) == (PICKUP_FORMAT, 16)
        assert canonical_json(VECTORS["request"]["body"]) == REQUEST_BODY
        assert canonical_json(request.model_dump(mode="json")) == REQUEST_BODY

    def test_the_reference_member_writes_the_same_bytes(self) -> None:
        request = PickupRequest(format=PICKUP_FORMAT, limit=16)
        assert canonical_json(request.model_dump(mode="json")) == REQUEST_BODY

    def test_the_token_binds_the_bodys_sha256(self) -> None:
        digest = hashlib.sha256(REQUEST_BODY).hexdigest()
        assert VECTORS["request"]["body_sha256"] == digest
        assert VECTORS["request"]["token"]["claims"]["body"] == digest

    def test_the_page_hands_out_the_positive_envelope(self) -> None:
        page = PickupPage.model_validate(VECTORS["page"])
        assert [e.model_dump() for e in page.envelopes] == [POSITIVE["wire"]]
        assert page.more is False


class TestAck:
    def test_body_is_the_canonical_json_of_a_valid_acknowledgement(self) -> None:
        ack = PickupAck.model_validate_json(ACK_BODY)
        assert canonical_json(ack.model_dump(mode="json")) == ACK_BODY
        assert canonical_json(VECTORS["ack"]["body"]) == ACK_BODY
        assert hashlib.sha256(ACK_BODY).hexdigest() == VECTORS["ack"]["body_sha256"]

    def test_the_reference_member_writes_the_same_bytes(self) -> None:
        answer = CarriedAnswer(
            packet_id=PACKET_ID,
            envelope_sha256=DIGEST,
            answer=SignedDocument.model_validate(ENVELOPES["receipt"]["document"]),
        )
        ack = PickupAck(format=PICKUP_ACK_FORMAT, answers=[answer])
        assert canonical_json(ack.model_dump(mode="json")) == ACK_BODY

    def test_the_answer_is_the_envelope_vectors_receipt_and_verifies(self) -> None:
        (answer,) = PickupAck.model_validate_json(ACK_BODY).answers
        assert answer.answer is not None
        assert answer.answer.model_dump() == ENVELOPES["receipt"]["document"]
        receipt = verify_delivery_receipt(
            answer.answer,
            view=_view(),
            packet_id=PACKET_ID,
            sender=SENDER,
            recipient=MEMBER,
            envelope_sha256=DIGEST,
        )
        assert receipt.model_dump(mode="json") == ENVELOPES["receipt"]["payload"]

    def test_the_result_records_it(self) -> None:
        result = PickupAckResult.model_validate(VECTORS["ack_result"])
        assert [o.value for o in result.outcomes] == ["recorded"]


class TestTokens:
    @pytest.mark.parametrize(("part", "body"), [("request", REQUEST_BODY), ("ack", ACK_BODY)])
    def test_stored_token_verifies_for_the_sender_and_its_body(
        self, part: str, body: bytes
    ) -> None:
        entry = VECTORS[part]["token"]
        claims = _verify(entry["compact"], body)
        assert claims == NodeTokenClaims(
            MEMBER, entry["claims"]["jti"], datetime.fromtimestamp(entry["claims"]["exp"], UTC)
        )
        assert claims.expires_at - NOW <= MAX_TTL

    @pytest.mark.parametrize(("part", "body"), [("request", REQUEST_BODY), ("ack", ACK_BODY)])
    def test_stored_token_is_reissued_byte_for_byte(self, part: str, body: bytes) -> None:
        entry = VECTORS[part]["token"]
        claims = entry["claims"]
        reissued = issue_node_token(
            key=_signing(entry["signer"]),
            issuer=claims["iss"],
            audience=claims["aud"],
            body=body,
            now=NOW,
            token_id=claims["jti"],
            ttl=timedelta(seconds=claims["exp"] - claims["iat"]),
        )
        assert reissued == entry["compact"]

    @pytest.mark.parametrize("part", ["request", "ack"])
    def test_compact_form_is_the_three_parts(self, part: str) -> None:
        entry = VECTORS[part]["token"]
        header = entry["header_utf8"].encode("ascii")
        claims = entry["claims_utf8"].encode("ascii")
        assert json.loads(header) == entry["header"]
        assert json.loads(claims) == entry["claims"]
        signing_input = f"{b64encode(header)}.{b64encode(claims)}"
        assert entry["signing_input_utf8"] == signing_input
        assert entry["compact"] == f"{signing_input}.{entry['signature_b64url']}"
        public = bytes.fromhex(VECTORS["keys"][entry["signer"]]["public_hex"])
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(
            b64decode(entry["signature_b64url"]), signing_input.encode("ascii")
        )
        assert entry["header"]["kid"] == VECTORS["keys"][entry["signer"]]["key_id"]

    def test_a_token_carries_only_its_own_body(self) -> None:
        with pytest.raises(InvalidNodeToken):
            _verify(VECTORS["request"]["token"]["compact"], ACK_BODY)
        with pytest.raises(InvalidNodeToken):
            _verify(VECTORS["ack"]["token"]["compact"], REQUEST_BODY)

    def test_a_token_is_for_the_sender_only(self) -> None:
        with pytest.raises(InvalidNodeToken):
            verify_node_token(
                VECTORS["request"]["token"]["compact"],
                view=_view(),
                audience=MEMBER,
                body=REQUEST_BODY,
                now=NOW,
            )


class TestNegativeRequests:
    """The refusals at the function level: the token as ``caller_token`` checks it (401), then
    the body as ``hand_out`` reads it (422)."""

    @pytest.mark.parametrize(
        "item", [i for i in NEGATIVE if i["expected"] == 401 and i["token"]], ids=_name
    )
    def test_token_is_refused(self, item: dict[str, Any]) -> None:
        body = item["body_utf8"].encode("ascii")
        assert PickupRequest.model_validate_json(body)  # what fails is the token alone
        with pytest.raises(InvalidNodeToken):
            _verify(item["token"], body)

    @pytest.mark.parametrize("item", [i for i in NEGATIVE if i["expected"] == 422], ids=_name)
    def test_body_is_not_a_pickup_request(self, item: dict[str, Any]) -> None:
        body = item["body_utf8"].encode("ascii")
        assert _verify(item["token"], body).issuer == MEMBER  # what fails is the body alone
        with pytest.raises(ValidationError):
            PickupRequest.model_validate_json(body)

    @pytest.mark.parametrize("name", sorted(UNDONE), ids=str)
    def test_refused_token_holds_once_its_one_fault_is_undone(self, name: str) -> None:
        # Guards the vectors themselves: each token is refused for what it claims, not more.
        (item,) = [i for i in NEGATIVE if i["name"] == name]
        options: dict[str, Any] = {
            "view": _view(),
            "audience": SENDER,
            "body": item["body_utf8"].encode("ascii"),
            "now": NOW,
        }
        options.update(UNDONE[name]())
        assert verify_node_token(item["token"], **options).token_id

    def test_every_refused_token_is_guarded(self) -> None:
        tokens = {i["name"] for i in NEGATIVE if i["expected"] == 401 and i["token"]}
        assert tokens - set(UNDONE) == {"lives_longer_than_120_seconds", "signed_by_another_key"}

    def test_the_long_lived_token_lives_one_second_too_long(self) -> None:
        (item,) = [i for i in NEGATIVE if i["name"] == "lives_longer_than_120_seconds"]
        claims = json.loads(b64decode(item["token"].split(".")[1]))
        assert claims["exp"] - claims["iat"] == MAX_TTL.total_seconds() + 1

    def test_the_forged_token_names_the_members_key_under_the_attackers_signature(self) -> None:
        (item,) = [i for i in NEGATIVE if i["name"] == "signed_by_another_key"]
        header, claims, signature = item["token"].split(".")
        assert (
            json.loads(b64decode(header))["kid"] == VECTORS["keys"]["recipient_signing"]["key_id"]
        )
        assert json.loads(b64decode(claims))["iss"] == MEMBER
        public = bytes.fromhex(VECTORS["keys"]["attacker_signing"]["public_hex"])
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(
            b64decode(signature), f"{header}.{claims}".encode("ascii")
        )

    def test_the_request_without_a_token_names_none(self) -> None:
        (item,) = [i for i in NEGATIVE if i["token"] is None]
        assert item["expected"] == 401


class TestNegativeAnswers:
    """The answers at the function level; whether a packet waits is the app's to say."""

    @pytest.mark.parametrize("item", NEGATIVE_ANSWERS, ids=_name)
    def test_body_and_token_are_valid(self, item: dict[str, Any]) -> None:
        body = item["body_utf8"].encode("ascii")
        assert canonical_json(item["body"]) == body
        PickupAck.model_validate_json(body)
        assert _verify(item["token"], body).issuer == MEMBER
        assert PickupAckResult.model_validate(item["result"]).outcomes == [item["expected"]]

    @pytest.mark.parametrize(
        "item", [i for i in NEGATIVE_ANSWERS if i["expected"] == "bad_receipt"], ids=_name
    )
    def test_receipt_does_not_verify(self, item: dict[str, Any]) -> None:
        (answer,) = PickupAck.model_validate(item["body"]).answers
        assert (answer.packet_id, answer.envelope_sha256) == (PACKET_ID, DIGEST)
        assert answer.answer is not None
        with pytest.raises(DeliveryFailed) as refused:
            verify_delivery_receipt(
                answer.answer,
                view=_view(),
                packet_id=PACKET_ID,
                sender=SENDER,
                recipient=MEMBER,
                envelope_sha256=DIGEST,
            )
        assert refused.value.outcome == "bad_receipt"

    @pytest.mark.parametrize(
        "item", [i for i in NEGATIVE_ANSWERS if i["expected"] == "unknown"], ids=_name
    )
    def test_unknown_names_another_packet_or_digest(self, item: dict[str, Any]) -> None:
        (answer,) = PickupAck.model_validate(item["body"]).answers
        assert (answer.packet_id, answer.envelope_sha256) != (PACKET_ID, DIGEST)


# -- through the real app of a sender ------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sender(federation: TestFederation) -> TestNode:
    """The host at the vector's ``now``, with the vector's directory (its own record swapped
    for the node's own) and the vector's envelope waiting for the member."""
    host = federation.add_node(SENDER, [PartnerRole.HOST_MISSION], "DE")
    directory = with_node(Directory.model_validate(VECTORS["directory"]), host.record())
    federation.publish(directory, only=[host])
    header = POSITIVE["header"]
    plaintext = json.loads(POSITIVE["plaintext_utf8"])
    created = datetime.fromisoformat(header["created_at"])
    # The row exchange.outbox.queue would have written for a pickup member, but holding the
    # stored envelope: queue seals anew, and HPKE draws its own ephemeral key.
    with host.sessions.begin() as session:
        session.add(
            OutboxRow(
                packet_id=PACKET_ID,
                kind=header["kind"],
                recipient=MEMBER,
                carried_fields={name: sorted(fields) for name, fields in plaintext.items()},
                envelope=canonical_json(POSITIVE["wire"]).decode("ascii"),
                envelope_sha256=DIGEST,
                status=OutboxStatus.PENDING,
                attempts=0,
                created_at=created,
                next_attempt_at=created,
                deliver_by=datetime.fromisoformat(header["delete_by"]),
                pickup_since=created,
            )
        )
    return host


def post(node: TestNode, path: str, body: bytes, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response: httpx.Response = node.client.post(path, content=body, headers=headers)
    return response


def attempts(node: TestNode) -> list[str]:
    with node.sessions() as session:
        return list(
            session.scalars(select(DeliveryAttemptRow.outcome).order_by(DeliveryAttemptRow.id))
        )


class TestThroughTheSendersApp:
    @pytest.mark.parametrize("item", NEGATIVE, ids=_name)
    def test_request_gets_its_status(self, sender: TestNode, item: dict[str, Any]) -> None:
        response = post(sender, PICKUP_PATH, item["body_utf8"].encode("ascii"), item["token"])
        assert response.status_code == item["expected"], response.text
        assert "Traceback" not in response.text
        assert attempts(sender) == []  # nothing handed out

    def test_the_page_then_each_answer_then_the_acknowledgement(self, sender: TestNode) -> None:
        page = post(sender, PICKUP_PATH, REQUEST_BODY, VECTORS["request"]["token"]["compact"])
        assert page.status_code == 200, page.text
        assert page.json() == VECTORS["page"]
        for item in NEGATIVE_ANSWERS:
            result = post(sender, PICKUP_ACK_PATH, item["body_utf8"].encode("ascii"), item["token"])
            assert result.status_code == 200, (item["name"], result.text)
            assert result.json() == item["result"], item["name"]
        ack = post(sender, PICKUP_ACK_PATH, ACK_BODY, VECTORS["ack"]["token"]["compact"])
        assert ack.status_code == 200, ack.text
        assert ack.json() == VECTORS["ack_result"]
        # The refusal and the two bad receipts were recorded as attempts; the unknown ones not.
        assert attempts(sender) == [
            "handed_out",
            "http_400",
            "bad_receipt",
            "bad_receipt",
            "delivered",
        ]
        with sender.sessions() as session:
            kept = session.get(DeliveryReceiptRow, PACKET_ID)
            assert kept is not None
            assert kept.document == ENVELOPES["receipt"]["document"]
            row = session.scalars(select(OutboxRow).where(OutboxRow.packet_id == PACKET_ID)).one()
            assert row.status == OutboxStatus.DELIVERED

    def test_a_token_is_accepted_once(self, sender: TestNode) -> None:
        compact = VECTORS["request"]["token"]["compact"]
        assert post(sender, PICKUP_PATH, REQUEST_BODY, compact).status_code == 200
        assert post(sender, PICKUP_PATH, REQUEST_BODY, compact).status_code == 401
