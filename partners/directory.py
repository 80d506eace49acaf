"""The signed federation directory: build it, sign it, verify it, and look things up in it.

Invariants:
- a node only uses a directory that verifies under the pinned operator key, has not expired, and
  is not older (lower serial) than the one it already holds;
- no directory is signed or installed whose sharing policy lists anything for ``law_enforcement``
  or gives a ``government_authority`` a field withheld from it (``check_sharing_policy``): the
  protection rules hold in the policy itself, not only where it is applied;
- a public key is only returned for a time inside its validity period, so a rotated-out key stops
  being used for new packets while old packets stay verifiable until the key's own end.

Example::

    >>> doc = sign_directory(directory, operator_key)                       # doctest: +SKIP
    >>> view = verify_directory(doc, operator_public, now=now)              # doctest: +SKIP
    >>> view.current_encryption_key("origin-reception", now).key_id         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from crypto.encoding import EncodingError, b64decode, b64encode
from crypto.errors import InvalidSignature
from crypto.keys import KeyUse, PublicKey, SigningKey
from crypto.signed import sign_document, verify_document
from partners.errors import DirectoryError, NoUsableKey, UnknownNode
from schemas.common import PartnerRole, Purpose
from schemas.directory import Directory, KeyRecord, NodeRecord, SharingRule
from schemas.envelope import SignedDocument
from schemas.sections import WITHHELD_FROM_AUTHORITIES

DIRECTORY_CONTEXT = "avrr-directory/1"
#: How far a directory's issue time may lie ahead of our clock before we call it bogus.
CLOCK_SKEW = timedelta(minutes=5)


def key_record(key: PublicKey) -> KeyRecord:
    return KeyRecord(
        key_id=key.key_id,
        public_key=b64encode(key.public),
        valid_from=key.valid_from,
        valid_until=key.valid_until,
    )


def public_key(record: KeyRecord, use: KeyUse) -> PublicKey:
    try:
        raw = b64decode(record.public_key)
    except EncodingError as exc:
        raise DirectoryError("a public key is not base64url") from exc
    key = PublicKey(use, raw, record.valid_from, record.valid_until)
    if len(raw) != 32 or key.key_id != record.key_id:
        raise DirectoryError("a key id does not match its public key")
    if not key.usable:
        raise DirectoryError(f"a listed key is not a usable {use.value} key")
    return key


def check_sharing_policy(directory: Directory) -> None:
    """Refuse a policy that breaks a protection rule, naming the rule and the field.

    Nothing is ever listed for ``law_enforcement``; a ``government_authority`` is never given
    diagnosis, medication, protection flags or any free-text field. The policy engine enforces
    both anyway; refusing such a policy when it is signed and when it is installed means no node
    ever holds one that says otherwise.
    """
    for rule in directory.sharing_policy:
        if rule.role is PartnerRole.LAW_ENFORCEMENT and rule.sections:
            raise DirectoryError(
                f"the sharing policy lists sections for law_enforcement ({rule.purpose.value});"
                " voluntary return data never goes to law enforcement"
            )
        if rule.role is not PartnerRole.GOVERNMENT_AUTHORITY:
            continue
        for section, fields in rule.sections.items():
            withheld = sorted(set(fields) & WITHHELD_FROM_AUTHORITIES[section])
            if withheld:
                named = ", ".join(f"{section.value}.{name}" for name in withheld)
                raise DirectoryError(
                    f"the sharing policy gives government_authority ({rule.purpose.value})"
                    f" fields withheld from authorities: {named}"
                )


def sign_directory(directory: Directory, operator_key: SigningKey) -> SignedDocument:
    check_sharing_policy(directory)
    return sign_document(directory.model_dump(mode="json"), operator_key, context=DIRECTORY_CONTEXT)


def signed_serial(doc: SignedDocument, operator_key: PublicKey) -> int:
    """The serial of a directory the operator signed, whatever its dates (for rollback checks)."""
    try:
        payload = verify_document(doc, operator_key, context=DIRECTORY_CONTEXT)
        return Directory.model_validate(payload).serial
    except (InvalidSignature, ValidationError, OverflowError) as exc:
        raise DirectoryError("the installed directory does not verify") from exc


def verify_directory(
    doc: SignedDocument,
    operator_key: PublicKey,
    *,
    now: datetime,
    min_serial: int = 0,
) -> FederationView:
    """Trust a directory only if the pinned operator signed it, it is current, and not rolled back."""
    try:
        payload = verify_document(doc, operator_key, context=DIRECTORY_CONTEXT)
    except InvalidSignature as exc:
        raise DirectoryError("the directory is not signed by the pinned operator key") from exc
    try:
        directory = Directory.model_validate(payload)
    except (ValidationError, OverflowError) as exc:
        # OverflowError: a time whose UTC equivalent lies beyond what ``datetime`` holds
        # (``0001-01-01T00:00:00+01:00``) escapes the schema's validator as itself.
        raise DirectoryError("the directory is malformed") from exc
    if directory.expires_at <= now:
        raise DirectoryError("the directory has expired; ask the operator for a fresh one")
    if directory.issued_at > now + CLOCK_SKEW:
        raise DirectoryError("the directory is issued in the future; check the clock")
    if directory.serial < min_serial:
        raise DirectoryError("the directory is older than the one already installed")
    check_sharing_policy(directory)
    view = FederationView(directory)
    view.check_keys()
    return view


@dataclass(frozen=True)
class FederationView:
    """Read-only lookups over a verified directory."""

    directory: Directory

    def check_keys(self) -> None:
        for node in self.directory.nodes:
            for record in node.signing_keys:
                public_key(record, KeyUse.SIGNING)
            for record in node.encryption_keys:
                public_key(record, KeyUse.ENCRYPTION)

    def node(self, node_id: str) -> NodeRecord:
        node = self.directory.node(node_id)
        if node is None:
            raise UnknownNode(node_id)
        return node

    def signing_key(self, node_id: str, key_id: str) -> PublicKey:
        """The node's signing key with that id, whatever its validity (callers check the time)."""
        for record in self.node(node_id).signing_keys:
            if record.key_id == key_id:
                return public_key(record, KeyUse.SIGNING)
        raise NoUsableKey(f"{node_id} has no signing key {key_id}")

    def current_encryption_key(self, node_id: str, now: datetime) -> PublicKey:
        """The newest encryption key of the node that is valid now: what new packets use."""
        keys = [public_key(r, KeyUse.ENCRYPTION) for r in self.node(node_id).encryption_keys]
        return _newest_valid(keys, now, node_id)

    def current_signing_key(self, node_id: str, now: datetime) -> PublicKey:
        keys = [public_key(r, KeyUse.SIGNING) for r in self.node(node_id).signing_keys]
        return _newest_valid(keys, now, node_id)

    def rule(self, role: PartnerRole, purpose: Purpose) -> SharingRule | None:
        return next(
            (r for r in self.directory.sharing_policy if r.role == role and r.purpose == purpose),
            None,
        )

    @property
    def suspended_countries(self) -> frozenset[str]:
        return frozenset(self.directory.suspended_countries)

    @property
    def suspended_regions(self) -> frozenset[str]:
        return frozenset(self.directory.suspended_regions)


def _newest_valid(keys: Iterable[PublicKey], now: datetime, node_id: str) -> PublicKey:
    valid = [k for k in keys if k.valid_at(now)]
    if not valid:
        raise NoUsableKey(f"{node_id} has no key valid now")
    return max(valid, key=lambda k: k.valid_from)


def with_node(directory: Directory, node: NodeRecord) -> Directory:
    """The directory with ``node`` added, or replacing the entry of the same id."""
    others = [n for n in directory.nodes if n.node_id != node.node_id]
    # Validate rather than model_copy(update=...), which skips validation: a node reusing a listed
    # key id must be refused here, not produce a Directory that breaks its own invariants.
    return Directory.model_validate({**directory.model_dump(), "nodes": [*others, node]})


def reissued(directory: Directory, *, now: datetime, validity: timedelta) -> Directory:
    """The next version of the directory: serial + 1, issued now, expiring after ``validity``."""
    data = directory.model_dump()
    data.update(
        serial=directory.serial + 1,
        issued_at=now.replace(microsecond=0),
        expires_at=(now + validity).replace(microsecond=0),
    )
    return Directory.model_validate(data)
