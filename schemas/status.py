"""Status updates: events in a person's return (arrived, assistance started, case closed).

Retention periods count from these events (``schemas.directory.RetentionRule``). Whoever learns
of one reports it: a host caseworker on the case, or a partner officer on a packet it received.
The host records it, recomputes the delete-by date of every section it sent about the person,
and tells each recipient the new dates in a ``status_update`` envelope; each recipient caps them
by the federation's rules, as it does for a referral.

Example::

    >>> CaseEventCreate(event="arrival", occurred_at="2026-03-02T10:00:00Z").event.value
    'arrival'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from schemas.common import AwareDatetime, Inbound, RandomId, SectionName
from schemas.directory import RetentionEvent
from schemas.sections import ReferralContent


def _reportable(event: RetentionEvent) -> RetentionEvent:
    if event is RetentionEvent.REFERRAL_SENT:
        raise ValueError("sending a referral is not reported; it is known")
    return event


#: An event someone reports: any but the sending of a referral, which the sender knows.
ReportableEvent = Annotated[
    RetentionEvent,
    AfterValidator(_reportable),
    WithJsonSchema(
        {
            "type": "string",
            "enum": [e.value for e in RetentionEvent if e is not RetentionEvent.REFERRAL_SENT],
        }
    ),
]


class CaseEventCreate(Inbound):
    """Report that an event happened, and when (not in the future)."""

    event: ReportableEvent
    occurred_at: AwareDatetime


class StatusPacket(Inbound):
    packet_id: RandomId
    #: From the packet's sender: the sections' new delete-by dates. Absent when a recipient
    #: reports the event to the sender (the sender decides the dates).
    section_delete_by: dict[SectionName, AwareDatetime] | None = None


class StatusUpdateContent(Inbound):
    """The plaintext of a ``status_update`` envelope."""

    event: RetentionEvent
    occurred_at: AwareDatetime
    packets: Annotated[list[StatusPacket], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _check(self) -> StatusUpdateContent:
        _reportable(self.event)
        if len({p.packet_id for p in self.packets}) != len(self.packets):
            raise ValueError("each packet is named once")
        return self

    def sections(self) -> list[SectionName]:
        return sorted({s for p in self.packets for s in (p.section_delete_by or {})})


class CorrectionContent(Inbound):
    """The plaintext of a ``correction`` envelope: new content for sections of one packet.

    Whole sections replace the recipient's; sections it no longer holds stay gone.
    """

    packet_id: RandomId
    content: ReferralContent
