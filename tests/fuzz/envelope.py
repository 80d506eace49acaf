"""Fuzzing the inbox's reading of an envelope: body bytes to the wire model, ``parse`` and
``accept_envelope`` (``tests.fuzz.targets.envelope``).

The only refusals allowed out are the wire model's ``ValidationError`` (answered ``malformed``) and
``InvalidEnvelope`` (docs/protocol.md, sections 8 and 9); anything else, or an accepted envelope
that breaks a rule of section 8, is a crash. Seeds: the envelope vectors, positive and negative.

Example::

    python -m tests.fuzz.envelope -max_total_time=60        # fuzz for a minute
    python -m tests.fuzz.envelope /tmp/avrr-fuzz/envelope/artifacts/crash-...   # replay one
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

from tests.fuzz.campaign import INSTRUMENTED, arguments

with atheris.instrument_imports(include=list(INSTRUMENTED)):
    from tests.fuzz import mutator, seeds, targets


def TestOneInput(data: bytes) -> None:  # noqa: N802 (the names libFuzzer harnesses share)
    targets.envelope(data)


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:  # noqa: N802
    return mutator.mutate(data, max_size, seed, fallback=atheris.Mutate)


def main() -> None:
    options = arguments(
        sys.argv,
        name="envelope",
        seeds=seeds.envelope_seeds(),
        words=seeds.dictionary_words(),
        max_len=8192,
    )
    atheris.Setup(options, TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
