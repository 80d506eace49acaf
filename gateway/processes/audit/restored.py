"""After ``avrr node restore``: does the restored access log verify, and what did it lose?

The restored log is first held to its own signed checkpoints (``records.accesslog.verify``). Then
to the witness, the newest checkpoint the node wrote to its home folder outside the database:

- the witness covers no more entries than the backup holds: the restored log must extend it,
  like any exported checkpoint, or the backup is not this node's log as it signed it;
- the witness covers more: the backup is older than the node's last checkpoint, so the entries
  written after the backup are gone. That is what restoring a backup means, not tampering; the
  witness is moved aside (kept, renamed, as the record of how far the log had reached) so the
  node can sign checkpoints again, and the report says how many entries were lost.

Invariant: nothing here changes the database; a report with problems means "do not start".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.kit.node import Node
from gateway.records.accesslog.tree import read_witness, witness_document
from gateway.records.accesslog.verify import verify_log
from schemas.audit import AuditReport


@dataclass(frozen=True)
class RestoredLog:
    report: AuditReport
    #: Entries the node had signed that the backup does not hold (0 if none were lost).
    lost_entries: int = 0
    #: Where the witness of the lost entries was moved, if it was.
    witness_kept_at: Path | None = None


def check_restored_log(session: Session, node: Node, now: datetime) -> RestoredLog:
    """Verify the restored log; move a witness the backup predates aside, keeping it."""
    view = node.directory()
    report = verify_log(session, node_id=node.node_id, view=view, now=now)
    witness = read_witness(node.home)
    document = witness_document(node.home)
    if witness is None or document is None or not report.ok:
        return RestoredLog(report)
    if witness.size <= report.entries:
        held = verify_log(session, node_id=node.node_id, view=view, now=now, exported=[document])
        return RestoredLog(held)
    path = node.home.checkpoint_witness
    kept = path.with_name(f"{path.stem}.before-restore-{now:%Y%m%dT%H%M%SZ}{path.suffix}")
    path.replace(kept)
    return RestoredLog(report, lost_entries=witness.size - report.entries, witness_kept_at=kept)
