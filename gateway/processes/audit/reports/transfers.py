"""Register of cross-border transfers by destination country, purpose and data category."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.kit.node import Node
from gateway.processes.audit.reports.delivered import delivered
from gateway.processes.audit.reports.report import Report, iso
from partners.errors import UnknownNode

#: The country shown for a recipient the current directory no longer lists.
UNKNOWN_COUNTRY = "??"


@dataclass
class _Tally:
    packets: int = 0
    first: datetime | None = None
    last: datetime | None = None
    grounds: set[str] = field(default_factory=set)
    recipients: set[str] = field(default_factory=set)


def transfers(session: Session, node: Node, now: datetime) -> Report:
    """Delivered packets by destination country, purpose and data category (section).

    The country is the recipient's in the current directory (``UNKNOWN_COUNTRY`` for a node no
    longer listed). ``gateway.processes.dpo.transfers`` lists the same transfers one by one.
    """
    del now
    view = node.directory()
    countries: dict[str, str] = {}
    tallies: defaultdict[tuple[str, str, str], _Tally] = defaultdict(_Tally)
    for referral in delivered(session):
        if referral.recipient not in countries:
            try:
                countries[referral.recipient] = view.node(referral.recipient).country
            except UnknownNode:
                countries[referral.recipient] = UNKNOWN_COUNTRY
        country = countries[referral.recipient]
        for section in referral.sections:
            tally = tallies[(country, referral.purpose, section)]
            tally.packets += 1
            at = referral.created_at
            tally.first = at if tally.first is None else min(tally.first, at)
            tally.last = at if tally.last is None else max(tally.last, at)
            tally.grounds.add(referral.transfer_ground)
            tally.recipients.add(referral.recipient)
    rows: list[dict[str, object]] = [
        {
            "destination_country": country,
            "purpose": purpose,
            "data_category": section,
            "packets": tally.packets,
            "first_sent": iso(tally.first),
            "last_sent": iso(tally.last),
            "transfer_grounds": sorted(tally.grounds),
            "recipients": sorted(tally.recipients),
        }
        for (country, purpose, section), tally in sorted(tallies.items())
    ]
    return Report(
        name="transfers",
        title="Register of cross-border transfers by destination country and data category",
        columns=[
            "destination_country",
            "purpose",
            "data_category",
            "packets",
            "first_sent",
            "last_sent",
            "transfer_grounds",
            "recipients",
        ],
        rows=rows,
    )
