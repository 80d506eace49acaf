"""Correcting a referral already delivered: the recipient's copy is replaced, section by section.

A caseworker sends corrected content for some sections of a delivered referral (for example
after accepting the person's correction request in the portal). What goes is decided
again as for a new referral: the sharing policy and the person's current consents, then
minimisation. Only sections the recipient still holds are corrected; a withdrawn or expired
section is never sent again. The host's own copy is updated, and a signed ``correction``
envelope goes through the outbox; the recipient replaces those sections and logs it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.kinds.correction import queue_correction
from gateway.exchange.referrals.sent import replace_sent_sections
from gateway.exchange.referrals.service import allowed_content, own_referral, read_referral_row
from gateway.kit.auth import Principal
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.consents.service import subject_facts
from partners.errors import UnknownNode
from schemas.api import ReferralCorrectionCreate, ReferralRead
from schemas.common import Purpose, ReferralStatus, TransferGround


def correct_referral(
    session: Session,
    node: Node,
    principal: Principal,
    referral_id: str,
    body: ReferralCorrectionCreate,
    now: datetime,
) -> ReferralRead:
    actor = Actor.of(principal)
    referral, case = own_referral(session, principal, referral_id, now)
    if referral.status != ReferralStatus.DELIVERED:
        raise Unprocessable("only a delivered referral can be corrected")
    try:
        target = node.directory().node(referral.recipient)
    except UnknownNode as exc:
        raise Unprocessable("the recipient is no longer in the federation directory") from exc
    facts = subject_facts(node, case, now.date())
    content, _ = allowed_content(
        session,
        node,
        case,
        target,
        Purpose(referral.purpose),
        TransferGround(referral.transfer_ground),
        body.content,
        actor,
        now,
        facts,
    )
    corrected = {s: v for s, v in content.to_wire().items() if s in referral.sent_sections}
    if not corrected:
        raise Unprocessable("the recipient holds none of these sections any more")
    replace_sent_sections(node, referral, corrected)
    queue_correction(session, node, referral, corrected, now)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_CORRECTED,
        subject=case.id,
        packet_id=referral.packet_id,
        sections=sorted(corrected),
        purpose=referral.purpose,
    )
    return read_referral_row(session, referral)
