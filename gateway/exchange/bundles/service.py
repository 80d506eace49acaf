"""Writing and taking hand-carried bundles (``avrr bundle export`` / ``avrr bundle import``).

A bundle (``avrr-bundle/1``, docs/protocol.md 6c) carries, from one node to one peer, the sealed
envelopes still due to the peer and the signed answers owed to it, sealed to the peer's
encryption key and signed: whoever carries it sees the two node ids, the time, its sequence
number, how many envelopes and answers it holds, and its size; nothing else.

Writing one (``write``) decides every envelope again exactly as a post would (past its deadline:
dead-lettered; forbidden by the directory in force: cancelled), records the attempt
(``bundled``), and marks the row as in flight: a withdrawal now sends a revocation after it.

Taking one (``take``) runs every check before anything changes, and refuses with the reason:
a file that is not a whole bundle (truncated, not canonical), one for another node, one from a
sender or key the directory does not list, one whose signature does not hold (altered), one
already taken, or one older than a bundle already taken from that sender (it could carry an
envelope a later revocation already removed). Then the answers it carries are recorded as a
pickup's are (``exchange.pickup.record_answers``), and its envelopes are stored as the inbox
would (``exchange.inbox.receive.take_carried``); the answers to them are owed to the sender and
travel in the next bundle written for it: the return bundle ``avrr bundle import`` writes.

Example::

    >>> written = write(session, node, kinds, recipient="origin-reception", now=now)  # doctest: +SKIP
    >>> taken = take(other_session, other_node, kinds, data=written.data, now=now)     # doctest: +SKIP
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from consent.errors import SharingRefused
from crypto.bundle import InvalidBundle, open_bundle, parse_bundle, seal_bundle, verify_bundle
from gateway.exchange.bundles import repository as bundles
from gateway.exchange.bundles.models import BundleDirection
from gateway.exchange.delivery import DeliveryReport, Recorder
from gateway.exchange.inbox.receive import take_carried
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.pickup import record_answers
from gateway.exchange.registry import Registry
from gateway.kit.node import Node
from partners.errors import DirectoryError
from schemas.envelope import (
    MAX_BUNDLE,
    MAX_BUNDLE_BYTES,
    AckOutcome,
    BundleContent,
    BundleHeader,
    WireEnvelope,
)

#: The attempt outcome recorded for an envelope written into a bundle.
BUNDLED = "bundled"


class BundleRefused(Exception):
    """A bundle that cannot be written or taken; the message says why, in words for the
    operator (never content)."""


@dataclass(frozen=True)
class Written:
    header: BundleHeader
    #: The bundle file's bytes.
    data: bytes
    #: Envelopes given up (past their deadline) or cancelled (a rule in force) on the way.
    report: DeliveryReport


@dataclass(frozen=True)
class Taken:
    header: BundleHeader
    #: Envelopes stored (or repeats answered again), and refused.
    stored: int
    refused: int
    #: Answers that delivered an envelope of ours, and answers that did not hold or named
    #: nothing waiting.
    answers_recorded: int
    answers_ignored: int


def write(
    session: Session, node: Node, kinds: Registry, *, recipient: str, now: datetime
) -> Written | None:
    """A bundle of everything due to ``recipient``, or None if nothing is (no envelope waits,
    no answer is owed). Recorded in ``session``: write the file before committing."""
    view = node.directory()
    if recipient == node.node_id:
        raise BundleRefused("a bundle goes to another node")
    try:
        recipient_key = view.current_encryption_key(recipient, now)
    except DirectoryError as exc:
        raise BundleRefused(f"{recipient} has no usable key in the directory") from exc
    recorder = Recorder(node=node, kinds=kinds)
    report = DeliveryReport()
    envelopes = []
    # Room for the answers and the framing; the sealed content is the file's size to a few
    # bytes in 3 (base64url).
    room = MAX_BUNDLE_BYTES * 3 // 4 - 2 * 1024 * 1024
    for row in outbox.pending_to(session, recipient, MAX_BUNDLE):
        room -= len(row.envelope) + 1
        if room < 0:
            break  # the rest travels in the next bundle
        sent = recorder.sent(session, row)
        if now >= row.deliver_by:
            recorder.failed(session, sent, row, "past_deadline", now, report, dead=True)
            continue
        try:
            recorder.recheck(sent, view)
        except SharingRefused as refusal:
            recorder.cancelled(session, sent, row, refusal, now, report)
            continue
        recorder.reached(session, sent, row, now, BUNDLED)
        outbox.bundled(row, now)
        envelopes.append(WireEnvelope.model_validate_json(row.envelope))
    answers = bundles.take_owed(session, recipient, MAX_BUNDLE)
    if not envelopes and not answers:
        return None
    signing_key = node.signing_key(now)
    header = BundleHeader(
        bundle_id=secrets.token_hex(16),
        sender=node.node_id,
        recipient=recipient,
        sequence=bundles.next_sequence(session, recipient),
        created_at=now.replace(microsecond=0),
        envelopes=len(envelopes),
        answers=len(answers),
        sender_key_id=signing_key.key_id,
        recipient_key_id=recipient_key.key_id,
    )
    sealed = seal_bundle(
        header,
        BundleContent(envelopes=envelopes, answers=answers),
        signing_key=signing_key,
        recipient_key=recipient_key,
    )
    bundles.add(session, header, BundleDirection.WRITTEN, now)
    return Written(header=header, data=sealed.file_bytes(), report=report)


def take(session: Session, node: Node, kinds: Registry, *, data: bytes, now: datetime) -> Taken:
    """Take a bundle written for this node, or refuse it whole (``BundleRefused``, nothing
    changed)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRefused(f"the file is larger than a bundle can be ({MAX_BUNDLE_BYTES} bytes)")
    try:
        sealed = parse_bundle(data)
    except InvalidBundle as exc:
        raise BundleRefused(
            f"the file is not a whole bundle ({exc.reason}): truncated, damaged or not a bundle"
        ) from exc
    header = sealed.header
    if header.recipient != node.node_id:
        raise BundleRefused(f"the bundle is for {header.recipient}, not for this node")
    view = node.directory()
    try:
        sender_key = view.signing_key(header.sender, header.sender_key_id)
    except DirectoryError as exc:
        raise BundleRefused(
            f"the directory does not list {header.sender} or the key it signed with"
        ) from exc
    try:
        verify_bundle(sealed, sender_key)
        content = open_bundle(sealed, node.keyring().encryption_key(header.recipient_key_id, now))
    except InvalidBundle as exc:
        raise BundleRefused(f"the bundle was altered or damaged ({exc.reason})") from exc
    except DirectoryError as exc:
        raise BundleRefused("this node no longer holds the key the bundle was sealed to") from exc
    seen = bundles.by_id(session, header.bundle_id)
    if seen is not None:
        raise BundleRefused(
            f"bundle {header.sequence} from {header.sender} was already imported "
            f"({seen.recorded_at:%Y-%m-%d %H:%M} UTC)"
        )
    latest = bundles.last(session, BundleDirection.TAKEN, header.sender)
    if latest is not None and header.sequence <= latest.sequence:
        raise BundleRefused(
            f"bundle {header.sequence} from {header.sender} is older than bundle "
            f"{latest.sequence}, already imported; a later bundle carries all it still could"
        )
    outcomes = record_answers(
        session, node, kinds, view, recipient=header.sender, answers=content.answers, now=now
    )
    answers = take_carried(
        session, node, kinds, caller=header.sender, envelopes=content.envelopes, now=now
    )
    bundles.owe(session, header.sender, answers, now)
    bundles.add(session, header, BundleDirection.TAKEN, now)
    recorded = sum(1 for outcome in outcomes if outcome is AckOutcome.RECORDED)
    return Taken(
        header=header,
        stored=sum(1 for item in answers if item.answer is not None),
        refused=len(content.envelopes) - sum(1 for item in answers if item.answer is not None),
        answers_recorded=recorded,
        answers_ignored=len(outcomes) - recorded,
    )
