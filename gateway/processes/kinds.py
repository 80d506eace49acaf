"""The message kinds this node exchanges, assembled: each kind's module, and the process a kind
hands what only a process can do (an event a recipient reports, by a status update or a reply,
is recorded on the case, which moves dates for every recipient).

Example::

    >>> registry = message_kinds()                                   # doctest: +SKIP
    >>> registry[MessageKind.STATUS_UPDATE].personal                  # doctest: +SKIP
    True
"""

from __future__ import annotations

from gateway.exchange.kinds.access_notice import AccessNoticeKind
from gateway.exchange.kinds.correction import CorrectionKind
from gateway.exchange.kinds.monitoring import MonitoringKind
from gateway.exchange.kinds.note import NoteKind
from gateway.exchange.kinds.plan import PlanKind
from gateway.exchange.kinds.referral import ReferralKind
from gateway.exchange.kinds.reply import ReplyKind
from gateway.exchange.kinds.revocation import RevocationKind
from gateway.exchange.kinds.status_update import StatusUpdateKind
from gateway.exchange.registry import Registry
from gateway.processes.status import event_from_recipient


def message_kinds() -> Registry:
    return Registry(
        [
            ReferralKind(),
            CorrectionKind(),
            RevocationKind(),
            StatusUpdateKind(on_event=event_from_recipient),
            AccessNoticeKind(),
            ReplyKind(on_event=event_from_recipient),
            PlanKind(),
            MonitoringKind(),
            NoteKind(),
        ]
    )
