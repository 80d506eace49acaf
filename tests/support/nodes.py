"""What tests do to a node and read from it directly, shared by several test modules: a referral
carrying canary strings, a purge run, the sections a partner holds, a partner officer's opening,
a referral's dates, a partner's report of an event, and everything a database holds as bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, inspect, select, text

from gateway.exchange.inbox.models import ReceivedSectionRow
from gateway.exchange.referrals.models import ReferralRow
from gateway.processes.retention import Purger
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestNode

#: A marker that must never appear anywhere it should not (logs, other nodes, stored bytes).
CANARY = "CANARY-7f3a-needs-wheelchair"


def canary_referral(host: TestNode, partner: TestNode) -> dict[str, Any]:
    case = flows.create_case(host)
    flows.record_consent(host, case["id"], partner.node_id)
    body = flows.content()
    body["medical"]["mobility_needs_on_arrival"] = CANARY
    body["arrival"]["final_destination"]["locality"] = CANARY
    response = flows.post_referral(host, case["id"], partner.node_id, body=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def purge(node: TestNode, batch_size: int = 500) -> Any:
    return Purger(
        node=node.client.app.state.node, sessions=node.sessions, batch_size=batch_size
    ).run_once()  # type: ignore[attr-defined]


def sections_held(partner: TestNode, packet_id: str) -> list[str]:
    with partner.sessions() as session:
        return sorted(
            session.scalars(
                select(ReceivedSectionRow.section).where(ReceivedSectionRow.packet_id == packet_id)
            )
        )


def open_packet(partner: TestNode, packet_id: str) -> Any:
    return partner.client.get(
        f"/api/v1/received/{packet_id}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
    )


def database_text(engine: Engine) -> bytes:
    """Everything the database holds, as bytes: the file(s) on SQLite, every row on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        assert path
        data = b""
        for suffix in ("", "-wal", "-journal"):
            try:
                with open(path + suffix, "rb") as handle:
                    data += handle.read()
            except FileNotFoundError:
                pass
        return data
    chunks = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            # Table names come from the database catalogue, not from input.
            query = f'SELECT CAST(t AS text) FROM "{table}" AS t'  # noqa: S608
            rows = connection.execute(text(query)).scalars()
            chunks.extend(row.encode() for row in rows)
    return b"\n".join(chunks)


def sent_dates(host: TestNode, referral_id: str) -> dict[str, datetime]:
    with host.sessions() as session:
        row = session.get(ReferralRow, referral_id)
        assert row is not None
        return {s: datetime.fromisoformat(d) for s, d in row.section_delete_by.items()}


def report_event(partner: TestNode, packet_id: str, event: str, at: datetime) -> Any:
    return partner.client.post(
        f"/api/v1/received/{packet_id}/events",
        json={"event": event, "occurred_at": at.isoformat()},
        headers=partner.auth(StaffRole.PARTNER_OFFICER),
    )
