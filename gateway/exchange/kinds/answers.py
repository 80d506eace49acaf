"""What the follow-up kinds share when they arrive (replies, plans, monitoring rounds, notes).

On the host, each must be about a referral this node sent to the node it comes from, about the
person that node knows under that pseudonym, and not past the referral's delete-by date;
anything else is refused (the generic refusal outward, the precise reason in the log and a
denied entry in the access log). On a partner, a note from the sender must be about a referral
this node still holds from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.followup import repository as followup
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.kinds.base import ReceiptAnswered, matches, node_actor, parsed, receipt_for
from gateway.exchange.outbox.queue import pseudonym_for
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.registry import Recipient
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, deny, record
from gateway.records.consents.service import current_grants
from partners.errors import UnknownNode
from partners.inbound import AcceptedEnvelope
from schemas.common import PartnerRole, Purpose
from schemas.envelope import MessageKind, SignedDocument
from schemas.followup import MonitoringContent, PlanContent

Returned = PlanContent | MonitoringContent


@dataclass(frozen=True)
class About:
    """Where a follow-up message belongs on this node: the referral and the person."""

    referral_packet_id: str
    subject_ref: str
    purpose: str
    delete_by: datetime
    #: The referral this node sent, when this node is its sender.
    sent: ReferralRow | None = None


def no_sections(sealed: SealedEnvelope) -> None:
    """Follow-up messages carry no referral section."""
    matches(set(), sealed)


def never_to_an_authority(recipient: Recipient) -> None:
    if PartnerRole.GOVERNMENT_AUTHORITY in recipient.roles:
        raise InvalidEnvelope(RejectReason.WITHHELD_FROM_ROLE)


def refuse(
    session: Session, accepted: AcceptedEnvelope, now: datetime, reason: RejectReason
) -> InvalidEnvelope:
    """Log the refusal where the DPO sees it, and return the error to raise."""
    header = accepted.sealed.header
    deny(
        session,
        at=now,
        actor=node_actor(header.sender),
        outcome=reason.value,
        packet_id=header.packet_id,
    )
    return InvalidEnvelope(reason)


def sent_referral(
    session: Session, node: Node, accepted: AcceptedEnvelope, packet_id: str, now: datetime
) -> About:
    """The referral this node sent to the message's sender that it names, or a refusal."""
    header = accepted.sealed.header
    found = referrals.sent_to(session, [packet_id], header.sender)
    referral = found[0] if found else None
    if referral is None or pseudonym_for(node, referral.case_id, header.sender) != header.subject:
        raise refuse(session, accepted, now, RejectReason.UNKNOWN_REFERRAL)
    if referral.delete_by <= now:
        raise refuse(session, accepted, now, RejectReason.REFERRAL_PAST_DELETE_BY)
    return About(
        referral_packet_id=referral.packet_id,
        subject_ref=referral.case_id,
        purpose=referral.purpose,
        delete_by=referral.delete_by,
        sent=referral,
    )


def consent_covers_return(
    session: Session,
    node: Node,
    accepted: AcceptedEnvelope,
    about: About,
    purpose: Purpose,
    now: datetime,
) -> None:
    """A plan or a monitoring round comes back only under a current consent of the person that
    covers ``purpose`` with the sender (by name or role), for the reintegration section."""
    sender = accepted.sealed.header.sender
    try:
        roles = frozenset(node.directory().node(sender).roles)
    except UnknownNode as exc:
        raise refuse(session, accepted, now, RejectReason.UNKNOWN_SENDER) from exc
    covered = any(
        grant.covers(purpose, sender, roles, now) and "reintegration" in grant.sections
        for grant in current_grants(session, about.subject_ref)
    )
    if not covered:
        raise refuse(session, accepted, now, RejectReason.NO_CONSENT_FOR_RETURN)


def keep(
    session: Session,
    node: Node,
    accepted: AcceptedEnvelope,
    about: About,
    *,
    detail: str | None,
    occurred_at: datetime,
    content: dict[str, Any],
    now: datetime,
) -> None:
    """Keep what arrived (sealed under the person's key) and log it for the person."""
    header = accepted.sealed.header
    followup.add(
        session,
        node,
        message_id=header.packet_id,
        direction=followup.RECEIVED,
        kind=header.kind,
        referral_packet_id=about.referral_packet_id,
        subject_ref=about.subject_ref,
        counterpart=header.sender,
        detail=detail,
        occurred_at=occurred_at,
        content=content,
        envelope_sha256=accepted.sealed.digest(),
        delete_by=about.delete_by,
        now=now,
    )
    kind = MessageKind(header.kind)
    record(
        session,
        at=now,
        actor=node_actor(header.sender),
        action=Action.FOLLOW_UP_RECEIVED,
        subject=about.subject_ref,
        packet_id=about.referral_packet_id,
        purpose=about.purpose,
        outcome=kind.value if detail is None else f"{kind.value}: {detail}",
    )


def received_referral(
    session: Session, accepted: AcceptedEnvelope, packet_id: str, now: datetime
) -> About | None:
    """On a partner: the referral it holds from the message's sender, about the same person."""
    header = accepted.sealed.header
    row = inbox.received_from(session, packet_id, sender=header.sender, subject=header.subject)
    if row is None or row.delete_by <= now:
        return None
    return About(
        referral_packet_id=row.packet_id,
        subject_ref=row.subject,
        purpose=row.purpose,
        delete_by=row.delete_by,
    )


class ReturnedUnderConsent(ReceiptAnswered):
    """What a reintegration partner returns to the referral's sender about the person (a plan,
    a monitoring round): about a referral sent to that partner, kept only under a current
    consent of the person covering ``consent_purpose`` with it, never to a government
    authority. A subclass names its content model, the purpose, and the detail it logs."""

    personal = True
    referral_content = False
    never_to_authorities = True
    content: type[Returned]
    consent_purpose: Purpose

    def detail(self, content: Returned) -> str:
        raise NotImplementedError

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        parsed(self.content, plaintext)
        no_sections(sealed)
        never_to_an_authority(recipient)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        content = self.content.model_validate_json(accepted.plaintext)
        about = sent_referral(session, node, accepted, content.packet_id, now)
        consent_covers_return(session, node, accepted, about, self.consent_purpose, now)
        keep(
            session,
            node,
            accepted,
            about,
            detail=self.detail(content),
            occurred_at=now,
            content=content.model_dump(mode="json"),
            now=now,
        )
        return receipt_for(node, accepted, now)
