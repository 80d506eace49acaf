"""What each harness does with one input: the real reading and checking code, and what must hold.

A target takes any bytes and either returns whether it accepted them (False: refused with the
refusal ``docs/protocol.md`` documents for that step) or raises: any other exception, or an
assertion that an accepted input breaks a rule the protocol states, is a crash. The harnesses
(``tests.fuzz.envelope`` and its siblings) hand these to libFuzzer; ``test_regressions.py`` calls
them directly on the inputs that once crashed.

Two forms of input. Plain bytes are taken as they would arrive (an inbox body, an
``Authorization`` value and a body, a directory file, a bundle file). An input whose first byte is
``SIGNED`` (0x01) instead carries the parts before they are signed and sealed, separated by NUL
bytes; the target seals and signs them with a key the synthetic federation lists (a member's, or
the operator's for a directory), so the fuzzer can change a header or a claim and still reach the
checks that come after the signature, as a faulty or hostile member could.

Example::

    >>> envelope(b'{"header":"e30","ciphertext":"AA","signature":"AA"}')
    False
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from consent.policy import withheld_for
from crypto import _primitives
from crypto.bundle import HPKE_INFO_CONTEXT as BUNDLE_HPKE_INFO
from crypto.bundle import SIGNATURE_CONTEXT as BUNDLE_SIGNATURE
from crypto.bundle import (
    InvalidBundle,
    SealedBundle,
    bundle_header_bytes,
    content_bytes,
    open_bundle,
    parse_bundle,
    verify_bundle,
)
from crypto.digest import sha256_hex
from crypto.encoding import b64encode, canonical_json
from crypto.envelope import HPKE_INFO_CONTEXT as ENVELOPE_HPKE_INFO
from crypto.envelope import SIGNATURE_CONTEXT as ENVELOPE_SIGNATURE
from crypto.envelope import SealedEnvelope, envelope_digest, header_bytes, parse
from crypto.errors import InvalidEnvelope
from crypto.jwt import unverified_claims
from gateway.exchange.registry import Recipient
from gateway.processes.kinds import message_kinds
from partners.directory import (
    CLOCK_SKEW,
    DIRECTORY_CONTEXT,
    FederationView,
    check_sharing_policy,
    signed_serial,
    verify_directory,
)
from partners.errors import DirectoryError, InvalidNodeToken, NoUsableKey
from partners.inbound import AcceptancePolicy, AcceptedEnvelope, accept_envelope
from partners.tokens import MAX_TTL, NodeTokenClaims, verify_node_token
from schemas.common import PartnerRole, Purpose
from schemas.envelope import BundleContent, SignedDocument, WireEnvelope
from tests.fuzz.federation import (
    BUNDLE_VECTORS,
    ENVELOPE_VECTORS,
    HOST_ID,
    KEYRING,
    MIN_SERIAL,
    NOW,
    OPERATOR,
    OPERATOR_PUBLIC,
    PARTNER_ID,
    RECIPIENT,
    SENDER,
    VIEW,
)

#: First byte of an input whose parts the target signs and seals itself (see the docstring).
SIGNED = b"\x01"
#: What separates the parts of a ``SIGNED`` input.
PART = b"\x00"

LIMITS = AcceptancePolicy()
#: The leeway ``crypto.jwt.verify_jwt`` gives node tokens (docs/protocol.md, section 7).
TOKEN_LEEWAY_SECONDS = 30


def signed_parts(data: bytes, count: int) -> list[bytes] | None:
    """The ``count`` parts of a ``SIGNED`` input (the last takes the rest), or None for plain."""
    if not data.startswith(SIGNED):
        return None
    parts = data[1:].split(PART, count - 1)
    return parts + [b""] * (count - len(parts))


# -- envelope: an inbox body ---------------------------------------------------------------------


def _inbox_content_check() -> Callable[[SealedEnvelope, bytes], None]:
    """The inbox's own content check for the reception partner: each kind's ``check``, as
    ``gateway.exchange.inbox.receive`` builds it for this node (its roles, now plus the skew)."""
    kinds = message_kinds()
    roles = frozenset(VIEW.node(PARTNER_ID).roles)
    recipient = Recipient(
        view=VIEW, roles=roles, withheld=withheld_for(roles), latest=NOW + LIMITS.skew
    )

    def check(sealed: SealedEnvelope, plaintext: bytes) -> None:
        kinds.accepted(sealed.header.kind).check(sealed, plaintext, recipient)

    return check


CONTENT_CHECK = _inbox_content_check()
POSITIVE_WIRE: dict[str, str] = ENVELOPE_VECTORS["positive"]["wire"]


def sealed_envelope_body(header: bytes, plaintext: bytes) -> bytes:
    """The inbox body of ``plaintext`` sealed to the partner under the exact ``header`` bytes and
    signed by the host, as ``crypto.envelope.seal`` does for a header it built itself."""
    ciphertext = _primitives.hpke_seal(
        RECIPIENT.public_key().public, plaintext, ENVELOPE_HPKE_INFO + header
    )
    message = ENVELOPE_SIGNATURE + struct.pack(">I", len(header)) + header + ciphertext
    wire = {
        "ciphertext": b64encode(ciphertext),
        "header": b64encode(header),
        "signature": b64encode(SENDER.sign(message)),
    }
    return canonical_json(wire)


def envelope(data: bytes) -> bool:
    """An inbox body from the host, read as the inbox reads it: the wire model (refusal:
    ``ValidationError``, answered as ``malformed``), the digest, then ``parse`` and every check
    of ``accept_envelope`` with the inbox's content check (refusal: ``InvalidEnvelope``)."""
    parts = signed_parts(data, 2)
    body = data if parts is None else sealed_envelope_body(parts[0], parts[1])
    try:
        wire = WireEnvelope.model_validate_json(body)
    except ValidationError:
        return False
    envelope_digest(wire)
    try:
        parse(wire)
        accepted = accept_envelope(
            wire,
            self_id=PARTNER_ID,
            caller=HOST_ID,
            view=VIEW,
            keyring=KEYRING,
            now=NOW,
            check_content=CONTENT_CHECK,
            limits=LIMITS,
        )
    except InvalidEnvelope:
        return False
    envelope_holds(wire, accepted, plaintext=None if parts is None else parts[1])
    return True


def envelope_holds(
    wire: WireEnvelope, accepted: AcceptedEnvelope, *, plaintext: bytes | None
) -> None:
    """What an accepted envelope must be (docs/protocol.md, section 8)."""
    sealed = accepted.sealed
    header = sealed.header
    assert header.recipient == PARTNER_ID, "accepted an envelope for another node"
    assert header.sender == HOST_ID, "accepted an envelope whose sender is not the caller"
    assert header_bytes(header) == sealed.header_bytes, "accepted a header that is not canonical"
    assert NOW - LIMITS.window <= header.created_at <= NOW + LIMITS.skew, "accepted a stale one"
    assert header.delete_by > NOW, "accepted an envelope past its delete-by date"
    assert SENDER.public_key().valid_at(header.created_at), "signed outside the key's validity"
    if plaintext is None:
        # Without the host's key, the only header and ciphertext that verify are the vector's.
        signed = (wire.header, wire.ciphertext)
        assert signed == (POSITIVE_WIRE["header"], POSITIVE_WIRE["ciphertext"]), "forged envelope"
    else:
        assert accepted.plaintext == plaintext, "opened to another plaintext than was sealed"


# -- node token: an Authorization value and the body it came with --------------------------------


def signed_token(header: bytes, claims: bytes) -> str:
    """A compact JWS of the exact ``header`` and ``claims`` bytes, signed by the host's key."""
    signing_input = f"{b64encode(header)}.{b64encode(claims)}"
    return f"{signing_input}.{b64encode(SENDER.sign(signing_input.encode('ascii')))}"


def node_token(data: bytes) -> bool:
    """A node token and the body it came with, checked by the partner (refusal:
    ``InvalidNodeToken``). Plain: the token (read as Latin-1, as an HTTP header value arrives),
    a newline, the body. ``SIGNED``: the protected header, the claims and the body."""
    parts = signed_parts(data, 3)
    if parts is None:
        text, _, body = data.partition(b"\n")
        token = text.decode("latin-1")
    else:
        token, body = signed_token(parts[0], parts[1]), parts[2]
    try:
        claims = verify_node_token(token, view=VIEW, audience=PARTNER_ID, body=body, now=NOW)
    except InvalidNodeToken:
        return False
    token_holds(token, claims, body)
    return True


def token_holds(token: str, claims: NodeTokenClaims, body: bytes) -> None:
    """What an accepted node token must say (docs/protocol.md, section 7)."""
    key_id, stated = unverified_claims(token)
    assert claims.issuer == stated["iss"], "verified another issuer than the token states"
    keys = {record.key_id for record in VIEW.node(claims.issuer).signing_keys}
    assert key_id in keys, "verified under a key the issuer does not hold"
    assert type(stated["aud"]) is str, "accepted an audience that is not one string"
    assert stated["aud"] == PARTNER_ID, "accepted a token for another node"
    issued, expires = stated["iat"], stated["exp"]
    assert type(issued) is int, "accepted an issue time that is not an integer"
    assert type(expires) is int, "accepted an expiry that is not an integer"
    now = int(NOW.timestamp())
    assert issued <= now + TOKEN_LEEWAY_SECONDS, "accepted a token issued in the future"
    assert expires > now - TOKEN_LEEWAY_SECONDS, "accepted an expired token"
    assert expires - issued <= MAX_TTL.total_seconds(), "accepted a token that lives too long"
    not_before = stated.get("nbf")
    assert not (not_before is not None and not_before > now + TOKEN_LEEWAY_SECONDS), "nbf ahead"
    token_id = stated["jti"]
    assert type(token_id) is str, "accepted a token id that is not a string"
    assert 16 <= len(token_id) <= 64, "accepted a token id of the wrong length"
    assert claims.token_id == token_id, "remembered another token id than the token states"
    assert stated["body"] == sha256_hex(body), "accepted a token made for another body"
    assert claims.expires_at == datetime.fromtimestamp(expires, UTC), "remembered another expiry"


# -- directory: a signed directory document ------------------------------------------------------


def operator_signed(payload: bytes) -> SignedDocument:
    """The exact ``payload`` bytes signed by the pinned operator key as a directory."""
    message = DIRECTORY_CONTEXT.encode("ascii") + b"\x00" + payload
    return SignedDocument(
        payload=b64encode(payload),
        key_id=OPERATOR.key_id,
        signature=b64encode(OPERATOR.sign(message)),
    )


def directory(data: bytes) -> bool:
    """A directory document as a node installs it (``gateway.kit.home``): the file or response
    read as a ``SignedDocument`` (refusal: ``ValidationError``), its serial for the rollback
    check and then ``verify_directory`` against the pinned operator key, now and the serial held
    (refusal: ``DirectoryError``), then every lookup a node makes in the view it trusts.
    ``SIGNED``: the payload bytes, which the operator key signs."""
    parts = signed_parts(data, 1)
    if parts is None:
        try:
            document = SignedDocument.model_validate_json(data)
        except ValidationError:
            return False
    else:
        document = operator_signed(parts[0])
    try:
        serial: int | None = signed_serial(document, OPERATOR_PUBLIC)
    except DirectoryError:
        serial = None
    try:
        view = verify_directory(document, OPERATOR_PUBLIC, now=NOW, min_serial=MIN_SERIAL)
    except DirectoryError:
        return False
    directory_holds(view, serial)
    return True


def directory_holds(view: FederationView, serial: int | None) -> None:
    """What a verified directory must be (docs/protocol.md, section 10; partners/directory.py),
    and that every lookup in it either answers or refuses with ``NoUsableKey``."""
    trusted = view.directory
    assert trusted.expires_at > NOW, "trusted an expired directory"
    assert trusted.issued_at <= NOW + CLOCK_SKEW, "trusted a directory issued in the future"
    assert trusted.serial >= MIN_SERIAL, "trusted a rolled-back directory"
    assert serial == trusted.serial, "the rollback check read another serial"
    check_sharing_policy(trusted)
    for node in trusted.nodes:
        assert view.node(node.node_id) == node
        for record in node.signing_keys:
            assert view.signing_key(node.node_id, record.key_id).key_id == record.key_id
        for lookup in (view.current_signing_key, view.current_encryption_key):
            try:
                key = lookup(node.node_id, NOW)
            except NoUsableKey:
                continue
            assert key.valid_at(NOW), "a current key that is not valid now"
    for role in PartnerRole:
        for purpose in Purpose:
            view.rule(role, purpose)
    assert view.suspended_countries == frozenset(trusted.suspended_countries)
    assert view.suspended_regions == frozenset(trusted.suspended_regions)


# -- bundle: a bundle file -----------------------------------------------------------------------

POSITIVE_BUNDLE: dict[str, str] = BUNDLE_VECTORS["positive"]["wire"]


def sealed_bundle_file(header: bytes, content: bytes) -> bytes:
    """A bundle file of ``content`` sealed to the partner under the exact ``header`` bytes and
    signed by the host, as ``crypto.bundle.seal_bundle`` does for a header it built itself."""
    ciphertext = _primitives.hpke_seal(
        RECIPIENT.public_key().public, content, BUNDLE_HPKE_INFO + header
    )
    message = BUNDLE_SIGNATURE + struct.pack(">I", len(header)) + header + ciphertext
    wire = {
        "ciphertext": b64encode(ciphertext),
        "header": b64encode(header),
        "signature": b64encode(SENDER.sign(message)),
    }
    return canonical_json(wire)


def bundle(data: bytes) -> bool:
    """A bundle file from the host read by the partner: ``parse_bundle``, ``verify_bundle``
    with the host's key, ``open_bundle`` with the partner's (refusal: ``InvalidBundle``).
    ``SIGNED``: the header and the content, which the target seals and signs."""
    parts = signed_parts(data, 2)
    file = data if parts is None else sealed_bundle_file(parts[0], parts[1])
    try:
        sealed = parse_bundle(file)
        verify_bundle(sealed, SENDER.public_key())
        content = open_bundle(sealed, RECIPIENT)
    except InvalidBundle:
        return False
    bundle_holds(sealed, content, plaintext=None if parts is None else parts[1])
    return True


def bundle_holds(sealed: SealedBundle, content: BundleContent, *, plaintext: bytes | None) -> None:
    """What an opened bundle must be (docs/protocol.md, section 6c)."""
    header = sealed.header_bytes
    assert bundle_header_bytes(sealed.header) == header, "opened a header that is not canonical"
    counts = (sealed.header.envelopes, sealed.header.answers)
    assert counts == (len(content.envelopes), len(content.answers)), "opened miscounted content"
    if plaintext is None:
        # Without the host's key, the only header and ciphertext that verify are the vector's.
        wire = sealed.wire()
        signed = (wire.header, wire.ciphertext)
        assert signed == (POSITIVE_BUNDLE["header"], POSITIVE_BUNDLE["ciphertext"]), "forged"
    else:
        assert content_bytes(content) == plaintext, "opened to another content than was sealed"
