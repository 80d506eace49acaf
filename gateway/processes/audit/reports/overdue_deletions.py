"""Data past its date not proven deleted: sent packets without verified deletion receipts for
every section, and received sections still stored (a legal hold, or the purge behind)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.inbox import repository as inbox
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.revocations.repository import DeletionRequest, requests_naming, unproven
from gateway.kit.node import Node
from gateway.processes.audit.reports.report import ROW_LIMIT, Report, iso, titled
from gateway.records.holds.service import active_holds
from schemas.common import RevocationStatus


def _why_unproven(packet_id: str, requests: Sequence[DeletionRequest]) -> str:
    if not requests:
        return "not_requested"
    last = requests[-1]
    if last.status == RevocationStatus.HELD and packet_id in last.held:
        return "held_by_recipient"
    reasons: dict[str, str] = {
        RevocationStatus.PENDING: "request_pending",
        RevocationStatus.UNDELIVERABLE: "request_undeliverable",
    }
    return reasons.get(last.status, "partly_proven")


def _overdue_sent(session: Session, now: datetime) -> tuple[list[dict[str, object]], bool]:
    """Delivered packets past their date that no verified deletion receipt fully covers.

    The same rule as ``gateway.processes.deletion_proof.overdue``, without its principal and without
    loading whole referral rows (which carry the sealed content).
    """
    rows = referrals.overdue_columns(session, now, ROW_LIMIT)
    naming = requests_naming(session, (r.case_id for r in rows))
    report: list[dict[str, object]] = []
    for row in rows:
        requests = naming.get(row.packet_id, [])
        still = unproven(row.packet_id, row.section_delete_by, requests)
        if not still:
            continue
        report.append(
            {
                "side": "sent",
                "packet_id": row.packet_id,
                "subject": row.case_id,
                "counterpart": row.recipient,
                "purpose": row.purpose,
                "sections": still,
                "delete_by": iso(row.delete_by),
                "days_overdue": (now - row.delete_by).days,
                "reason": _why_unproven(row.packet_id, requests),
            }
        )
    return report, len(rows) == ROW_LIMIT


def _overdue_received(session: Session, now: datetime) -> tuple[list[dict[str, object]], bool]:
    """Received sections past their date still stored: the purge is behind, or a hold keeps them."""
    rows = inbox.overdue_columns(session, now, ROW_LIMIT)
    held_subjects, held_packets = active_holds(session, now)
    packets: dict[str, dict[str, object]] = {}
    sections: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        sections[row.packet_id].append(row.section)
        if row.packet_id in packets:
            continue  # rows come earliest date first: the packet's row shows its oldest
        held = row.subject in held_subjects or row.packet_id in held_packets
        packets[row.packet_id] = {
            "side": "received",
            "packet_id": row.packet_id,
            "subject": row.subject,
            "counterpart": row.sender,
            "purpose": row.purpose,
            "sections": sections[row.packet_id],
            "delete_by": iso(row.delete_by),
            "days_overdue": (now - row.delete_by).days,
            "reason": "legal_hold" if held else "purge_behind",
        }
    for packet_id, names in sections.items():
        packets[packet_id]["sections"] = sorted(names)
    return list(packets.values()), len(rows) == ROW_LIMIT


def overdue_deletions(session: Session, node: Node, now: datetime) -> Report:
    """Data past its delete-by date: sent without proof of deletion, or received and still here.

    ``reason`` says why. Sent side: ``not_requested`` (no deletion receipt asked for yet),
    ``request_pending``, ``request_undeliverable``, ``held_by_recipient`` (the recipient's legal
    hold keeps it), ``partly_proven`` (receipts cover only some sections). Received side:
    ``legal_hold`` (an active hold on the subject or packet keeps it) or ``purge_behind``.
    """
    del node
    sent, sent_cut = _overdue_sent(session, now)
    received, received_cut = _overdue_received(session, now)
    return Report(
        name="overdue-deletions",
        title=titled(
            "Data past its delete-by date not yet proven deleted", sent_cut or received_cut
        ),
        columns=[
            "side",
            "packet_id",
            "subject",
            "counterpart",
            "purpose",
            "sections",
            "delete_by",
            "days_overdue",
            "reason",
        ],
        rows=sent + received,
    )
