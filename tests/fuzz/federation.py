"""The one synthetic federation every harness checks against: fixed keys, directory and time.

The keys are those of the known-answer vectors (``tests/vectors/envelope-v1.json``, the same in
``bundle-v1.json``), so the vectors' envelope and bundle are accepted whole and the fuzzer starts
from inputs that reach the last check; the directory is the one the pickup vectors trust
(``pickup-v1.json``: the host mission and the reception partner, their keys and a sharing policy
that allows what the vector referral carries), signed by a fixed operator key. Nothing here is
random and nothing reads a clock, so one input always takes one path.

Example::

    >>> VIEW.signing_key(HOST_ID, SENDER.key_id).key_id == SENDER.key_id    # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crypto.keys import EncryptionKey, SigningKey
from partners.directory import FederationView, sign_directory, verify_directory
from partners.keyring import Keyring
from schemas.directory import Directory

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"


def vectors(name: str) -> dict[str, Any]:
    """One known-answer vector file of ``tests/vectors``, parsed."""
    value: dict[str, Any] = json.loads((VECTORS_DIR / name).read_text("utf-8"))
    return value


ENVELOPE_VECTORS = vectors("envelope-v1.json")
BUNDLE_VECTORS = vectors("bundle-v1.json")
PICKUP_VECTORS = vectors("pickup-v1.json")

#: The receiver's clock for every harness: the envelope vectors' acceptance time.
NOW = datetime.fromisoformat(ENVELOPE_VECTORS["acceptance"]["now"])
HOST_ID: str = BUNDLE_VECTORS["sender"]
PARTNER_ID: str = BUNDLE_VECTORS["recipient"]


def _seed_and_dates(name: str) -> tuple[bytes, datetime, datetime]:
    entry = ENVELOPE_VECTORS["keys"][name]
    return (
        bytes.fromhex(entry["seed_hex"]),
        datetime.fromisoformat(entry["valid_from"]),
        datetime.fromisoformat(entry["valid_until"]),
    )


#: The host mission's signing key: it signs the vectors' envelopes, bundles and node tokens.
SENDER = SigningKey(*_seed_and_dates("sender_signing"))
#: The reception partner's keys: the vectors are sealed to ``RECIPIENT``.
RECIPIENT = EncryptionKey(*_seed_and_dates("recipient_encryption"))
PARTNER_SIGNING = SigningKey(*_seed_and_dates("recipient_signing"))
#: A key no directory lists, as an outsider holds one.
ATTACKER = SigningKey(*_seed_and_dates("attacker_signing"))

#: The federation operator's key, pinned by every node; a fixed seed, as the vectors' keys.
OPERATOR = SigningKey(
    bytes(range(0xA0, 0xC0)), NOW - timedelta(days=365), NOW + timedelta(days=3650)
)
OPERATOR_PUBLIC = OPERATOR.public_key()

#: The serial of the directory a node already holds: a lower one is a rollback.
MIN_SERIAL = 2
DIRECTORY = Directory.model_validate({**PICKUP_VECTORS["directory"], "serial": MIN_SERIAL + 1})
SIGNED_DIRECTORY = sign_directory(DIRECTORY, OPERATOR)
#: The directory as the reception partner's node holds it, verified as a node verifies it.
VIEW: FederationView = verify_directory(
    SIGNED_DIRECTORY, OPERATOR_PUBLIC, now=NOW, min_serial=MIN_SERIAL
)
#: The reception partner's own private keys.
KEYRING = Keyring(signing=[PARTNER_SIGNING], encryption=[RECIPIENT])
