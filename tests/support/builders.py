"""Synthetic federations for the pure tests: keys, directories, views and sealed referrals.

Everything here is made up (node ids under ``.example``, organisations named "Synthetic ...", no
person), pure (no database, no web framework, no clock) and pinned to ``NOW``, so that expiry,
freshness and key rotation are tested by choosing times rather than by waiting.

Example::

    >>> fed = Federation.build()                                         # doctest: +SKIP
    >>> fed.view.current_encryption_key(PARTNER_ID, NOW).key_id          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crypto.envelope import SealedEnvelope, seal
from crypto.keys import EncryptionKey, PublicKey, SigningKey
from partners.directory import FederationView, key_record, sign_directory
from partners.keyring import Keyring
from schemas.common import PartnerRole, Purpose, SectionName, TransferGround
from schemas.consent import RevocationContent, RevokedPacket
from schemas.directory import Directory, NodeRecord, SharingRule
from schemas.envelope import EnvelopeHeader, MessageKind, SignedDocument

#: The instant every test treats as "now". Whole seconds, as the wire formats require.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY_FROM = NOW - timedelta(days=90)
KEY_UNTIL = NOW + timedelta(days=365)

HOST_ID = "host-mission.example"
PARTNER_ID = "reception.example"
THIRD_ID = "transit.example"

PACKET_ID = "0123456789abcdef0123456789abcdef"
CONSENT_REF = "fedcba9876543210fedcba9876543210"
SUBJECT = "ab" * 32
PLAINTEXT = b'{"arrival":{"reception_requested":true}}'
REVOCATION_ID = "00112233445566778899aabbccddeeff"
WITHDRAWAL_ID = "ffeeddccbbaa99887766554433221100"
#: What a synthetic revocation asks the recipient to delete: one section of the referral above.
REVOKED = (RevokedPacket(packet_id=PACKET_ID, sections=[SectionName.ARRIVAL]),)


def signing_key(
    *, valid_from: datetime = KEY_FROM, valid_until: datetime = KEY_UNTIL
) -> SigningKey:
    return SigningKey.generate(valid_from=valid_from, valid_until=valid_until)


def encryption_key(
    *, valid_from: datetime = KEY_FROM, valid_until: datetime = KEY_UNTIL
) -> EncryptionKey:
    return EncryptionKey.generate(valid_from=valid_from, valid_until=valid_until)


@dataclass(frozen=True)
class NodeKeys:
    """One node's current private keys (tests add rotated ones where they need them)."""

    node_id: str
    signing: SigningKey
    encryption: EncryptionKey

    @classmethod
    def generate(cls, node_id: str) -> NodeKeys:
        return cls(node_id, signing_key(), encryption_key())

    def keyring(self) -> Keyring:
        return Keyring(signing=[self.signing], encryption=[self.encryption])


def node_record(
    keys: NodeKeys,
    *,
    roles: Sequence[PartnerRole] = (PartnerRole.RECEPTION_PARTNER,),
    country: str = "SN",
    signing: Sequence[SigningKey] | None = None,
    encryption: Sequence[EncryptionKey] | None = None,
) -> NodeRecord:
    """The directory entry for ``keys``; ``signing``/``encryption`` replace the listed keys."""
    signing = [keys.signing] if signing is None else signing
    encryption = [keys.encryption] if encryption is None else encryption
    return NodeRecord(
        node_id=keys.node_id,
        organisation=f"Synthetic organisation {keys.node_id}",
        country=country,
        roles=list(roles),
        inbox_url=f"https://{keys.node_id}/",
        signing_keys=[key_record(k.public_key()) for k in signing],
        encryption_keys=[key_record(k.public_key()) for k in encryption],
    )


def directory(
    nodes: Sequence[NodeRecord],
    *,
    serial: int = 1,
    issued_at: datetime = NOW - timedelta(days=1),
    expires_at: datetime = NOW + timedelta(days=30),
    sharing_policy: Sequence[SharingRule] = (),
    suspended_countries: Sequence[str] = (),
) -> Directory:
    return Directory(
        federation_id="synthetic-federation",
        serial=serial,
        issued_at=issued_at,
        expires_at=expires_at,
        nodes=list(nodes),
        sharing_policy=list(sharing_policy),
        suspended_countries=list(suspended_countries),
    )


def operator_key() -> SigningKey:
    return signing_key(valid_from=NOW - timedelta(days=365), valid_until=NOW + timedelta(days=3650))


@dataclass(frozen=True)
class Federation:
    """An operator, a host mission (the sender) and a reception partner (the recipient)."""

    operator: SigningKey
    host: NodeKeys
    partner: NodeKeys
    directory: Directory

    @classmethod
    def build(cls) -> Federation:
        host = NodeKeys.generate(HOST_ID)
        partner = NodeKeys.generate(PARTNER_ID)
        nodes = [
            node_record(host, roles=[PartnerRole.HOST_MISSION], country="DE"),
            node_record(partner, roles=[PartnerRole.RECEPTION_PARTNER], country="SN"),
        ]
        return cls(operator_key(), host, partner, directory(nodes))

    @property
    def view(self) -> FederationView:
        return FederationView(self.directory)

    def signed(self) -> SignedDocument:
        return sign_directory(self.directory, self.operator)


def envelope_header(
    *,
    kind: MessageKind,
    sender: str,
    recipient: str,
    signing: SigningKey,
    recipient_key: PublicKey,
    created_at: datetime = NOW - timedelta(hours=1),
    delete_by: datetime = NOW + timedelta(days=30),
    packet_id: str = PACKET_ID,
    transfer_ground: TransferGround | None = None,
    section_delete_by: dict[SectionName, datetime] | None = None,
) -> EnvelopeHeader:
    return EnvelopeHeader(
        kind=kind,
        packet_id=packet_id,
        sender=sender,
        recipient=recipient,
        purpose=Purpose.ARRIVAL_RECEPTION,
        subject=SUBJECT,
        consent_ref=CONSENT_REF,
        transfer_ground=transfer_ground,
        sections=[SectionName.ARRIVAL],
        created_at=created_at,
        delete_by=delete_by,
        section_delete_by=section_delete_by,
        sender_key_id=signing.key_id,
        recipient_key_id=recipient_key.key_id,
    )


def referral_header(
    *,
    sender: str,
    recipient: str,
    signing: SigningKey,
    recipient_key: PublicKey,
    created_at: datetime = NOW - timedelta(hours=1),
    delete_by: datetime = NOW + timedelta(days=30),
    packet_id: str = PACKET_ID,
    transfer_ground: TransferGround = TransferGround.EXPLICIT_CONSENT,
) -> EnvelopeHeader:
    """A referral header; a referral must state its transfer ground and a date per section.

    Its one section (arrival) is to be deleted at ``delete_by``.
    """
    return envelope_header(
        kind=MessageKind.REFERRAL,
        sender=sender,
        recipient=recipient,
        signing=signing,
        recipient_key=recipient_key,
        created_at=created_at,
        delete_by=delete_by,
        packet_id=packet_id,
        transfer_ground=transfer_ground,
        section_delete_by={SectionName.ARRIVAL: delete_by},
    )


def sealed_referral(
    *,
    sender: str,
    recipient: str,
    signing: SigningKey,
    recipient_key: PublicKey,
    created_at: datetime = NOW - timedelta(hours=1),
    delete_by: datetime = NOW + timedelta(days=30),
    packet_id: str = PACKET_ID,
    plaintext: bytes = PLAINTEXT,
) -> SealedEnvelope:
    """A referral envelope sealed and signed exactly as a sending node would."""
    header = referral_header(
        sender=sender,
        recipient=recipient,
        signing=signing,
        recipient_key=recipient_key,
        created_at=created_at,
        delete_by=delete_by,
        packet_id=packet_id,
    )
    return seal(header, plaintext, signing_key=signing, recipient_key=recipient_key)


def sealed_revocation(
    *,
    sender: str,
    recipient: str,
    signing: SigningKey,
    recipient_key: PublicKey,
    packets: Sequence[RevokedPacket] = REVOKED,
    withdrawal_id: str = WITHDRAWAL_ID,
    packet_id: str = REVOCATION_ID,
) -> SealedEnvelope:
    """A revocation envelope (no transfer ground: it carries no personal data) asking for deletion."""
    header = envelope_header(
        kind=MessageKind.REVOCATION,
        sender=sender,
        recipient=recipient,
        signing=signing,
        recipient_key=recipient_key,
        packet_id=packet_id,
    )
    content = RevocationContent(withdrawal_id=withdrawal_id, packets=list(packets))
    plaintext = content.model_dump_json().encode()
    return seal(header, plaintext, signing_key=signing, recipient_key=recipient_key)
