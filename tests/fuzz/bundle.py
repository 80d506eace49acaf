"""Fuzzing the reading of a hand-carried bundle: file bytes to ``parse_bundle``, ``verify_bundle``
and ``open_bundle`` (``tests.fuzz.targets.bundle``).

The only refusal allowed out is ``InvalidBundle`` (docs/protocol.md, section 6c); anything else,
or an opened bundle that breaks a rule of section 6c, is a crash. Seeds: the bundle vectors,
positive and negative.

Example::

    python -m tests.fuzz.bundle -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

from tests.fuzz.campaign import INSTRUMENTED, arguments

with atheris.instrument_imports(include=list(INSTRUMENTED)):
    from tests.fuzz import mutator, seeds, targets


def TestOneInput(data: bytes) -> None:  # noqa: N802 (the names libFuzzer harnesses share)
    targets.bundle(data)


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:  # noqa: N802
    return mutator.mutate(data, max_size, seed, fallback=atheris.Mutate)


def main() -> None:
    options = arguments(
        sys.argv,
        name="bundle",
        seeds=seeds.bundle_seeds(),
        words=seeds.dictionary_words(),
        max_len=16384,
    )
    atheris.Setup(options, TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
