"""Consent receipts: signed by the node, kept by the person, readable in their language.

The receipt is a ``SignedDocument`` over a ``ConsentReceipt`` (context ``avrr-consent-receipt/1``)
that anyone can verify with the node's key in the directory. Its printable page in the person's
language is ``surfaces.consent_receipt_page``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crypto.signed import sign_document
from gateway.kit.auth import Principal
from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case, person
from gateway.records.consents import repository
from partners.errors import UnknownNode
from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName
from schemas.consent import (
    CONSENT_RECEIPT_FORMAT,
    ConsentMethod,
    ConsentReceipt,
    ConsentStatus,
)
from schemas.envelope import SignedDocument


def consent_receipt(
    session: Session,
    node: Node,
    principal: Principal,
    case_id: str,
    consent_id: str,
    now: datetime,
) -> tuple[SignedDocument, ConsentReceipt, str]:
    """The signed receipt of a consent's current version, and the person's language."""
    case = own_case(session, principal, case_id, now)
    return receipt_for(session, node, case, consent_id, Actor.of(principal), now)


def receipt_for(
    session: Session,
    node: Node,
    case: CaseRow,
    consent_id: str,
    actor: Actor,
    now: datetime,
) -> tuple[SignedDocument, ConsentReceipt, str]:
    """As ``consent_receipt``, for a case already authorised (the portal comes here)."""
    row = repository.consent_of_case(session, case.id, consent_id)
    if row is None:
        raise NotFound("consent")
    current = repository.versions_of(session, [row.id])[row.id][-1]
    view = node.directory()
    organisation = view.node(node.node_id).organisation
    recipient_organisation = None
    if row.recipient:
        try:
            recipient_organisation = view.node(row.recipient).organisation
        except UnknownNode:
            recipient_organisation = None
    receipt = ConsentReceipt(
        node=node.node_id,
        organisation=organisation,
        consent_id=row.id,
        version=current.version,
        case_reference=case.id,
        status=ConsentStatus(current.status),
        purpose=Purpose(row.purpose),
        recipient=row.recipient,
        recipient_organisation=recipient_organisation,
        recipient_role=PartnerRole(row.recipient_role) if row.recipient_role else None,
        sections=[SectionName(s) for s in current.sections],
        given_by=ConsentGiver(row.given_by),
        method=ConsentMethod(row.method),
        language=row.language,
        valid_from=row.valid_from.replace(microsecond=0),
        valid_until=row.valid_until.replace(microsecond=0) if row.valid_until else None,
        issued_at=now.replace(microsecond=0),
    )
    doc = sign_document(
        receipt.model_dump(mode="json"), node.signing_key(now), context=CONSENT_RECEIPT_FORMAT
    )
    record(
        session,
        at=now,
        actor=actor,
        action=Action.CONSENT_RECEIPT_ISSUED,
        subject=case.id,
        sections=current.sections,
        purpose=row.purpose,
    )
    return doc, receipt, person(node, case).preferred_language
