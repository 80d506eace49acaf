"""Access notices: a recipient tells a packet's sender what it did with it, so the sender's log
for that person covers the whole federation.

On a recipient, opening a packet and purging its sections queue a signed ``access_notice``
envelope to the sender through the outbox (one per sender, person and purpose at a time): the
action, when, the actor's role and the recipient's node, never a staff member's name or id.
Deletions a sender asked for are not noticed: the signed deletion receipt already says so.

On the sender, each access is logged for the case of the packet, with the recipient as the
acting organisation, once the packet is confirmed to be one sent to that recipient for that
person; anything else in a notice is ignored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.kinds.base import ReceiptAnswered, matches, parsed, receipt_for
from gateway.exchange.outbox.queue import Message, pseudonym_for, queue_envelope
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.registry import Recipient
from gateway.kit.errors import ServiceUnavailable, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from partners.inbound import AcceptedEnvelope
from schemas.audit import AccessNoticeContent, NoticedAccess
from schemas.common import Purpose
from schemas.envelope import MessageKind, SignedDocument

log = logging.getLogger("avrr.accesslog")

_ACTIONS = {"opened": Action.OPENED, "deleted": Action.DELETED, "purged": Action.PURGED}
_MAX = 500


def queue_notices(
    session: Session,
    node: Node,
    accesses: Sequence[tuple[ReceivedPacketRow, NoticedAccess]],
    now: datetime,
) -> None:
    """Queue notices of these accesses to the packets' senders, in the caller's transaction."""
    groups: dict[tuple[str, str, str], list[tuple[ReceivedPacketRow, NoticedAccess]]] = defaultdict(
        list
    )
    for row, access in accesses:
        groups[(row.sender, row.subject, row.purpose)].append((row, access))
    for (sender, subject, purpose), group in groups.items():
        for start in range(0, len(group), _MAX):
            chunk = group[start : start + _MAX]
            content = AccessNoticeContent(accesses=[access for _, access in chunk])
            try:
                queue_envelope(
                    session,
                    node,
                    Message(
                        kind=MessageKind.ACCESS_NOTICE,
                        recipient=sender,
                        purpose=Purpose(purpose),
                        case_id=None,
                        subject=subject,
                        consent_ref=chunk[0][0].consent_ref,
                        sections=content.sections(),
                        content=content.model_dump(mode="json"),
                        delete_by=now + node.settings.acceptance_window,
                    ),
                    now,
                )
            except (Unprocessable, ServiceUnavailable):
                # The sender left the federation, has no usable key, or this node holds no valid
                # directory: nobody can be told now. The access is in this node's own log.
                log.warning("no access notice queued for sender %s: no usable key", sender)


def apply_notice(
    session: Session,
    node: Node,
    *,
    sender: str,
    subject: str,
    content: AccessNoticeContent,
    now: datetime,
) -> None:
    """Log what a recipient reports it did with packets this node sent it.

    An access dated before the acceptance window is ignored: a notice reports recent acts, and
    back-dated entries would slip out of the DPO's reports.
    """
    oldest = now - node.settings.acceptance_window
    ids = {a.packet_id for a in content.accesses}
    sent = {r.packet_id: r for r in referrals.sent_to(session, ids, sender)}
    for access in content.accesses:
        referral = sent.get(access.packet_id)
        if referral is None or pseudonym_for(node, referral.case_id, sender) != subject:
            continue
        if access.at < oldest:
            continue
        if not {s.value for s in access.sections} <= set(referral.section_delete_by):
            continue  # sections this node never sent in that packet
        record(
            session,
            at=access.at,
            actor=Actor(user=f"node:{sender}", org=sender, role=access.actor_role),
            action=_ACTIONS[access.action],
            subject=referral.case_id,
            packet_id=access.packet_id,
            sections=[s.value for s in access.sections],
            purpose=referral.purpose,
            outcome=access.outcome,
        )


class AccessNoticeKind(ReceiptAnswered):
    kind = MessageKind.ACCESS_NOTICE
    #: Who opened or purged a person's packet, under their pseudonym: personal data.
    personal = True
    referral_content = False
    never_to_authorities = False

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        notice = parsed(AccessNoticeContent, plaintext)
        matches({s.value for s in notice.sections()}, sealed)
        if any(access.at > recipient.latest for access in notice.accesses):
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        header = accepted.sealed.header
        apply_notice(
            session,
            node,
            sender=header.sender,
            subject=header.subject,
            content=AccessNoticeContent.model_validate_json(accepted.plaintext),
            now=now,
        )
        return receipt_for(node, accepted, now)
