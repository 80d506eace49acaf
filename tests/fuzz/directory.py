"""Fuzzing the directory verifier: a signed directory document to ``signed_serial``,
``verify_directory`` (operator key pin, expiry, issue time, serial, sharing policy, keys) and the
lookups of the view it returns (``tests.fuzz.targets.directory``).

The only refusals allowed out are ``ValidationError`` for bytes that are not a signed document at
all, and ``DirectoryError`` from the verifier (``NoUsableKey`` from a lookup of the current key);
anything else, or a trusted directory that breaks a rule of docs/protocol.md section 10, is a
crash. Seeds: the pickup vectors' directory signed by the operator, a fuller one, and ones a node
must refuse.

Example::

    python -m tests.fuzz.directory -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

from tests.fuzz.campaign import INSTRUMENTED, arguments

with atheris.instrument_imports(include=list(INSTRUMENTED)):
    from tests.fuzz import mutator, seeds, targets


def TestOneInput(data: bytes) -> None:  # noqa: N802 (the names libFuzzer harnesses share)
    targets.directory(data)


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:  # noqa: N802
    return mutator.mutate(data, max_size, seed, fallback=atheris.Mutate)


def main() -> None:
    options = arguments(
        sys.argv,
        name="directory",
        seeds=seeds.directory_seeds(),
        words=seeds.dictionary_words(),
        max_len=16384,
    )
    atheris.Setup(options, TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
