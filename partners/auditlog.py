"""Access-log hashing and checkpoints, the same for every node and for anyone checking one.

An entry's leaf is the canonical JSON (RFC 8785) of a fixed-order array::

    ["avrr-log-entry/1", at, actor, actor_org, actor_role, action, subject, packet_id,
     sections, purpose, outcome]

Strings, nulls and a list of strings only, so Python's ``json.dumps`` with no spaces and
``ensure_ascii=False`` writes exactly the RFC 8785 form, and fast (the whole log is rehashed on
every verification). A checkpoint is a ``SignedDocument`` (context ``avrr-log-checkpoint/1``)
signed by the node's listed key.

Example::

    >>> checkpoint_payload(node="host-a", size=0, root=EMPTY_ROOT, at=t)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import ValidationError

from crypto.errors import InvalidSignature
from crypto.keys import SigningKey
from crypto.merkle import leaf_hash, verify_consistency, verify_inclusion
from crypto.signed import sign_document, verify_document
from partners.directory import FederationView
from partners.errors import DirectoryError
from schemas.audit import CHECKPOINT_FORMAT, LOG_ENTRY_FORMAT, Checkpoint, LogEntry
from schemas.envelope import SignedDocument

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class BadCheckpoint(Exception):
    """A checkpoint that is not what its node signed (or not signed by a key listed for it)."""


def entry_time(at: datetime) -> str:
    """An entry's time exactly as hashed and shown: UTC, microseconds, ``Z``."""
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def entry_bytes(entry: LogEntry) -> bytes:
    return fields_bytes(
        entry.at,
        entry.actor,
        entry.actor_org,
        entry.actor_role,
        entry.action,
        entry.subject,
        entry.packet_id,
        entry.sections,
        entry.purpose,
        entry.outcome,
    )


def fields_bytes(
    at: str,
    actor: str,
    actor_org: str,
    actor_role: str,
    action: str,
    subject: str | None,
    packet_id: str | None,
    sections: list[str],
    purpose: str | None,
    outcome: str,
) -> bytes:
    """The leaf data of an entry given as plain fields (what the log hashes, fast)."""
    fields = [
        LOG_ENTRY_FORMAT,
        at,
        actor,
        actor_org,
        actor_role,
        action,
        subject,
        packet_id,
        sorted(sections),
        purpose,
        outcome,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_leaf(entry: LogEntry) -> bytes:
    return leaf_hash(entry_bytes(entry))


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> SignedDocument:
    return sign_document(checkpoint.model_dump(mode="json"), key, context=CHECKPOINT_FORMAT)


def verify_checkpoint(doc: SignedDocument, view: FederationView, node: str) -> Checkpoint:
    """The checkpoint, if ``node`` signed it with a key the directory lists, valid at its time."""
    try:
        key = view.signing_key(node, doc.key_id)
        checkpoint = Checkpoint.model_validate(verify_document(doc, key, context=CHECKPOINT_FORMAT))
    except (DirectoryError, InvalidSignature, ValidationError) as exc:
        raise BadCheckpoint(f"not a checkpoint signed by {node}") from exc
    if checkpoint.node != node or not key.valid_at(checkpoint.at):
        raise BadCheckpoint(f"not a checkpoint signed by {node}")
    return checkpoint


def entry_is_in(entry: LogEntry, proof: list[str], checkpoint: Checkpoint) -> bool:
    """Whether ``proof`` shows ``entry`` in the log ``checkpoint`` commits to."""
    if entry.index is None:
        return False
    try:
        path = [bytes.fromhex(p) for p in proof]
    except ValueError:
        return False
    return verify_inclusion(
        entry_leaf(entry), entry.index, checkpoint.size, path, bytes.fromhex(checkpoint.root)
    )


def extends(old: Checkpoint, new: Checkpoint, proof: list[str]) -> bool:
    """Whether ``proof`` shows the log at ``new`` only appended to the log at ``old``."""
    try:
        path = [bytes.fromhex(p) for p in proof]
    except ValueError:
        return False
    return verify_consistency(
        old.size, new.size, bytes.fromhex(old.root), bytes.fromhex(new.root), path
    )
