"""The access log as others see it: entries, signed checkpoints, proofs, and access notices.

Anyone holding an entry, its inclusion proof and the node's signed checkpoint can check the
entry is in the log the node committed to, with the node's public key from the directory and
nothing else (``partners.auditlog``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field

from schemas.common import (
    AwareDatetime,
    Inbound,
    NodeId,
    Outbound,
    RandomId,
    ReferralStatus,
    SectionName,
)
from schemas.envelope import SignedDocument

LOG_ENTRY_FORMAT: Final = "avrr-log-entry/1"
CHECKPOINT_FORMAT: Final = "avrr-log-checkpoint/1"
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class LogEntry(Outbound):
    """One access-log entry. ``at`` is ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, exactly as hashed.

    ``index`` is its place in the log; None for an entry the sequencer has not placed yet.
    """

    index: int | None
    at: str
    actor: str
    actor_org: str
    actor_role: str
    action: str
    subject: str | None
    packet_id: str | None
    sections: list[str]
    purpose: str | None
    outcome: str


class Checkpoint(Inbound):
    """What a node signs: its log had ``size`` entries with this ``root`` at ``at``."""

    format: Literal["avrr-log-checkpoint/1"] = CHECKPOINT_FORMAT
    node: NodeId
    size: Annotated[int, Field(ge=0)]
    root: Sha256Hex
    at: AwareDatetime


class ProvenEntry(Outbound):
    """An entry with the proof that it is in the log of ``checkpoint_size`` entries."""

    entry: LogEntry
    leaf_hash: str
    #: Hex hashes, from the leaf's sibling up; None while no checkpoint covers the entry yet.
    inclusion_proof: list[str] | None
    checkpoint_size: int | None


class ConsistencyRead(Outbound):
    old_size: int
    new_size: int
    proof: list[str]


class NoticedAccess(Inbound):
    """One thing a recipient did with a packet, as its node tells the sender. No staff names."""

    packet_id: RandomId
    action: Literal["opened", "deleted", "purged"]
    at: AwareDatetime
    actor_role: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
    sections: Annotated[list[SectionName], Field(max_length=4)] = []
    outcome: Annotated[str, Field(pattern=r"^[a-z_]{1,60}$")] = "ok"


class AccessNoticeContent(Inbound):
    """The plaintext of an ``access_notice`` envelope."""

    accesses: Annotated[list[NoticedAccess], Field(min_length=1, max_length=500)]

    def sections(self) -> list[SectionName]:
        return sorted({s for a in self.accesses for s in a.sections})


class AuditProblem(Outbound):
    """One thing ``avrr audit verify`` found wrong: where, and what."""

    kind: str
    #: The first leaf index concerned, when the problem is at an entry.
    index: int | None
    detail: str


class AuditReport(Outbound):
    entries: int
    unsequenced: int
    checkpoints: int
    checked_at: datetime
    problems: list[AuditProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


class SubjectHistory(Outbound):
    """Everything the log says about one person, provable against one signed checkpoint."""

    subject: str
    #: The node's latest signed checkpoint; every proof below is against it.
    checkpoint: SignedDocument | None
    entries: list[ProvenEntry]


# -- the person's own view (portal and export) --------------------------------------------------


class SharedPacket(Outbound):
    """One packet sent about the person: to whom, why, when, and what of it is still held."""

    packet_id: str
    recipient: str
    recipient_organisation: str
    recipient_country: str
    purpose: str
    sent_at: datetime
    status: ReferralStatus
    sections_sent: list[str]
    withdrawn_sections: list[str]
    expired_sections: list[str]
    delete_by: datetime
    #: What this node still holds of what it sent, section by section.
    content: dict[str, object]


class CorrectionStatus(StrEnum):
    """A person's request to correct what is held about them."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CorrectionRead(Outbound):
    id: str
    requested_at: datetime
    text: str
    status: CorrectionStatus
    answered_at: datetime | None


class PersonExport(Outbound):
    """Everything the node holds about the person, as the person downloads it."""

    format: Literal["avrr-person-export/1"] = "avrr-person-export/1"
    node: str
    organisation: str
    exported_at: datetime
    case_reference: str
    details: dict[str, object]
    shared: list[SharedPacket]
    consents: list[dict[str, object]]
    corrections: list[CorrectionRead]
    history: SubjectHistory
