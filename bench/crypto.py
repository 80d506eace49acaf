"""Benchmarks 3 and 7: sealing and signing one packet, against what else one could use.

3. **Our layer against the raw primitives**: ``crypto.envelope.seal`` (canonical header, HPKE
   X25519/HKDF-SHA256/ChaCha20-Poly1305 with the header bound in, Ed25519 over header and
   ciphertext) on a 4 KB packet, against the raw PyNaCl calls on the same bytes (a libsodium
   sealed box, X25519/XSalsa20-Poly1305, and an Ed25519 signature of the ciphertext).
   R = our packets/s over PyNaCl's; the goal is R >= 0.8 (our layer adds at most 25 %). Also
   measured: our primitives alone (HPKE and Ed25519 over the same bytes, no header), whose ratio
   to PyNaCl (``R_ceiling``) is the best R any header encoding could reach. The goal that our
   code can be held to is against that ceiling: ``R_vs_primitives`` = our packets/s over our
   primitives alone, goal >= 0.9 (the header, its encoding and the checks cost at most 10 %).
7. **What a mission might use instead**: one ``gpg --encrypt --sign`` per packet (Debian's
   GnuPG, throwaway keys in a temporary home), against our seal and sign. Recorded as the ratio
   of our packets/s to GnuPG's; no goal.

No database is involved, so ``--database`` (repeatable) only names where the result is filed;
``bench.run`` runs it once and files the same figures under both, for the table. Each run
measures ours, PyNaCl and our primitives alone one after the other, so the three alternate
through the runs and each run gives its own ratios. Run it::

    python -m bench.crypto
    python -m bench.crypto --quick
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing

from bench.harness import (
    PAIRS,
    QUICK_PAIRS,
    Spread,
    emit,
    load_average,
    machine,
    merge_results,
    pairs_argument,
    stop_cleanly_on_sigterm,
    table,
    timed,
)
from crypto import _primitives
from crypto.envelope import seal
from crypto.keys import EncryptionKey, SigningKey
from schemas.envelope import EnvelopeHeader

NAME = "crypto_seal_sign"
#: ``bench.run`` runs this once and files the figures under every database.
NO_DATABASE = True
DESCRIPTION = "Benchmark: sealing and signing a 4 KB packet (ours, raw PyNaCl, GnuPG)."
PACKET = 4096
GOAL_R = 0.8
GOAL_PRIMITIVES = 0.9
NOW = datetime.now(UTC).replace(microsecond=0)


def _header(sender: SigningKey, recipient: EncryptionKey) -> EnvelopeHeader:
    return EnvelopeHeader(
        kind="referral",
        packet_id=secrets.token_hex(16),
        sender="host-mission",
        recipient="origin-reception",
        purpose="arrival_reception",
        subject=secrets.token_hex(32),
        consent_ref=secrets.token_hex(16),
        transfer_ground="explicit_consent_informed_of_risks",
        sections=["arrival", "medical", "travel"],
        created_at=NOW,
        delete_by=NOW + timedelta(days=90),
        section_delete_by={s: NOW + timedelta(days=90) for s in ("arrival", "medical", "travel")},
        sender_key_id=sender.key_id,
        recipient_key_id=recipient.key_id,
    )


def ours_per_s(count: int) -> float:
    sender = SigningKey.generate(valid_from=NOW, valid_until=NOW + timedelta(days=1))
    recipient = EncryptionKey.generate(valid_from=NOW, valid_until=NOW + timedelta(days=1))
    public = recipient.public_key()
    header = _header(sender, recipient)
    data = secrets.token_bytes(PACKET)

    def run() -> None:
        for _ in range(count):
            seal(header, data, signing_key=sender, recipient_key=public)

    _, seconds = timed(run)
    return count / seconds


def pynacl_per_s(count: int) -> float:
    signer = nacl.signing.SigningKey.generate()
    box = nacl.public.SealedBox(nacl.public.PrivateKey.generate().public_key)
    data = secrets.token_bytes(PACKET)

    def run() -> None:
        for _ in range(count):
            signer.sign(box.encrypt(data))

    _, seconds = timed(run)
    return count / seconds


def primitives_per_s(count: int) -> float:
    """Our protocol's primitives alone (HPKE, then Ed25519 over the ciphertext), with no header.

    Set against PyNaCl this is the best R our layer could reach: what is left is the choice of
    HPKE (RFC 9180) over libsodium's sealed box, not our code.
    """
    signing = SigningKey.generate(valid_from=NOW, valid_until=NOW + timedelta(days=1))
    recipient = EncryptionKey.generate(valid_from=NOW, valid_until=NOW + timedelta(days=1))
    public = recipient.public_key().public
    data = secrets.token_bytes(PACKET)
    info = secrets.token_bytes(400)  # about the size of an encoded header

    def run() -> None:
        for _ in range(count):
            signing.sign(_primitives.hpke_seal(public, data, info))

    _, seconds = timed(run)
    return count / seconds


def gpg_per_s(count: int) -> float | None:
    """Packets per second through ``gpg --encrypt --sign``, one process per packet."""
    gpg = shutil.which("gpg")
    if gpg is None:
        return None
    with tempfile.TemporaryDirectory(prefix="avrr-gpg-") as home:
        env = {"GNUPGHOME": home, "PATH": "/usr/bin:/bin"}
        for uid in ("sender@bench.invalid", "recipient@bench.invalid"):
            subprocess.run(  # noqa: S603 (fixed arguments, no input)
                [
                    gpg,
                    "--batch",
                    "--passphrase",
                    "",
                    "--quick-gen-key",
                    uid,
                    "ed25519",
                    "sign",
                    "never",
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            fingerprint = (
                subprocess.run(  # noqa: S603 (fixed arguments, no input)
                    [gpg, "--batch", "--list-keys", "--with-colons", uid],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.split("fpr:::::::::")[1]
                .split(":")[0]
            )
            subprocess.run(  # noqa: S603 (fixed arguments, no input)
                [
                    gpg,
                    "--batch",
                    "--passphrase",
                    "",
                    "--quick-add-key",
                    fingerprint,
                    "cv25519",
                    "encr",
                    "never",
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        packet = Path(home) / "packet.bin"
        packet.write_bytes(secrets.token_bytes(PACKET))
        command = [
            gpg,
            "--batch",
            "--yes",
            "--trust-model",
            "always",
            "--local-user",
            "sender@bench.invalid",
            "--recipient",
            "recipient@bench.invalid",
            "--encrypt",
            "--sign",
            "--output",
            str(Path(home) / "packet.gpg"),
            str(packet),
        ]

        def run() -> None:
            for _ in range(count):
                subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603

        _, seconds = timed(run)
        if gpgconf := shutil.which("gpgconf"):
            subprocess.run([gpgconf, "--kill", "all"], env=env, check=False, capture_output=True)  # noqa: S603
    return count / seconds


def run_benchmark(runs: int, count: int, gpg_count: int) -> dict[str, Any]:
    figures: dict[str, list[float]] = {
        "ours_per_s": [],
        "pynacl_per_s": [],
        "R_vs_pynacl": [],
        "primitives_per_s": [],
        "R_ceiling": [],
        "R_vs_primitives": [],
        "load_1m": [],
        "gpg_per_s": [],
        "R_vs_gpg": [],
    }
    for run in range(runs):
        ours, raw = ours_per_s(count), pynacl_per_s(count)
        figures["ours_per_s"].append(ours)
        figures["pynacl_per_s"].append(raw)
        figures["R_vs_pynacl"].append(ours / raw)
        primitives = primitives_per_s(count)
        figures["primitives_per_s"].append(primitives)
        figures["R_ceiling"].append(primitives / raw)
        figures["R_vs_primitives"].append(ours / primitives)
        figures["load_1m"].append(load_average())
        gpg = gpg_per_s(gpg_count)
        if gpg is not None:
            figures["gpg_per_s"].append(gpg)
            figures["R_vs_gpg"].append(ours / gpg)
        emit(f"  run {run + 1}: ours {ours:,.0f}/s, PyNaCl {raw:,.0f}/s, gpg {gpg or 0:,.1f}/s")
    summary = {name: Spread.of(values).as_dict() for name, values in figures.items() if values}
    return {
        "setup": {
            "packet_bytes": PACKET,
            "packets_per_run": count,
            "gpg_packets_per_run": gpg_count,
        },
        "machine": machine(),
        "summary": summary,
        "verdict": {
            "goal": f"R_vs_pynacl >= {GOAL_R}; R_vs_primitives >= {GOAL_PRIMITIVES}",
            "met": summary["R_vs_pynacl"]["median"] >= GOAL_R,
            "primitives_met": summary["R_vs_primitives"]["median"] >= GOAL_PRIMITIVES,
        },
    }


def report(entry: dict[str, Any]) -> str:
    rows = [
        [name, *Spread(**values).cells(2 if name.startswith("R") else 1)]
        for name, values in entry["summary"].items()
    ]
    verdict = entry["verdict"]
    tail = (
        f"goal R_vs_pynacl >= {GOAL_R}: {'met' if verdict['met'] else 'NOT met'}; "
        f"R_vs_primitives >= {GOAL_PRIMITIVES}: "
        f"{'met' if verdict.get('primitives_met') else 'NOT met'}"
    )
    return "\n".join([table(["figure", "median", "low", "high"], rows), tail])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crypto", description=DESCRIPTION)
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        action="append",
        help="where to file the figures (may be repeated; no database is used)",
    )
    parser.add_argument("--quick", action="store_true")
    pairs_argument(parser)
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    count, gpg_count = (500, 10) if args.quick else (5_000, 50)
    runs = args.pairs or (QUICK_PAIRS if args.quick else PAIRS)
    emit(f"{NAME}: {count:,} packets of {PACKET} bytes per run, {runs} runs")
    entry = run_benchmark(runs, count, gpg_count)
    for database in args.database or ["sqlite"]:
        merge_results(NAME, database, entry)
    emit(report(entry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
