"""What the sharing decision needs to know about a consent, as plain values.

The gateway stores consents in its database and hands them to the policy as ``ConsentGrant``s.

Example::

    >>> ConsentGrant(ref="c1", purpose=Purpose.ARRIVAL_RECEPTION, recipient="origin-reception",
    ...              sections=frozenset({SectionName.ARRIVAL}), valid_from=t0,
    ...              valid_until=None).covers(Purpose.ARRIVAL_RECEPTION, "origin-reception", t0)  # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.common import Purpose, SectionName


@dataclass(frozen=True)
class ConsentGrant:
    """Consent to share ``sections`` for ``purpose`` with one named recipient node."""

    ref: str
    purpose: Purpose
    recipient: str
    sections: frozenset[SectionName]
    valid_from: datetime
    valid_until: datetime | None
    withdrawn_at: datetime | None = None

    def covers(self, purpose: Purpose, recipient: str, now: datetime) -> bool:
        if self.purpose != purpose or self.recipient != recipient:
            return False
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return False
        if now < self.valid_from:
            return False
        return self.valid_until is None or now < self.valid_until
