"""A case's timeline on the host: every referral about the person, what became of it, and what
each partner answered, sent back and measured, in the order it happened.

Entries say who (the partner organisation), what and when, with proof where a signed document
exists: the digest of the envelope a partner's message came in (its signature was verified on
arrival), and of the recipient's signed delivery receipt. Reading it is logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.exchange.followup.service import reads
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.auth import Principal
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases import repository as cases
from gateway.records.cases.service import own_case
from partners.errors import UnknownNode
from schemas.api import TimelineEntry


def timeline(
    session: Session, node: Node, principal: Principal, case_id: str, now: datetime
) -> list[TimelineEntry]:
    case = own_case(session, principal, case_id, now)
    sent = list(referrals.of_case(session, case.id))
    entries = [e for referral in sent for e in _referral_entries(session, node, referral)]
    by_packet = {r.packet_id: r for r in sent}
    for message in reads(session, node, list(by_packet)):
        referral = by_packet[message.referral_packet_id]
        entries.append(
            TimelineEntry(
                at=message.occurred_at,
                what=message.kind if message.direction == "received" else f"{message.kind} sent",
                referral_id=referral.id,
                organisation=message.counterpart_organisation,
                detail=message.detail,
                content=message.content,
                proof=message.envelope_sha256,
            )
        )
    for event, occurred in cases.case_events(session, case.id).items():
        entries.append(
            TimelineEntry(
                at=occurred,
                what=f"event: {event.value}",
                referral_id=None,
                organisation=None,
                detail=None,
                content=None,
                proof=None,
            )
        )
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.TIMELINE_VIEWED,
        subject=case.id,
    )
    return sorted(entries, key=lambda e: (e.at, e.what))


def _referral_entries(session: Session, node: Node, referral: ReferralRow) -> list[TimelineEntry]:
    organisation = _organisation(node, referral.recipient)

    def entry(
        at: datetime, what: str, detail: str | None = None, proof: str | None = None
    ) -> TimelineEntry:
        return TimelineEntry(
            at=at,
            what=what,
            referral_id=referral.id,
            organisation=organisation,
            detail=detail,
            content=_summary(referral),
            proof=proof,
        )

    found = [entry(referral.submitted_at or referral.created_at, "referral", referral.purpose)]
    if referral.approved_by:
        found.append(entry(referral.created_at, "referral approved"))
    receipt = outbox.receipt_of(session, referral.packet_id)
    if receipt is not None:
        found.append(
            entry(receipt.verified_at, "referral delivered", None, receipt.envelope_sha256)
        )
    if referral.status_reason:
        found.append(
            entry(referral.created_at, f"referral {referral.status}", referral.status_reason)
        )
    return found


def _summary(referral: ReferralRow) -> dict[str, Any]:
    """What the referral carried, by name only (never content), and what it follows."""
    return {
        "purpose": referral.purpose,
        "sections_sent": sorted(
            {*referral.sent_sections, *referral.withdrawn_sections, *referral.expired_sections}
        ),
        "status": referral.status,
        "follows": referral.follows,
    }


def _organisation(node: Node, node_id: str) -> str:
    try:
        return node.directory().node(node_id).organisation
    except UnknownNode:
        return "(no longer in the directory)"
