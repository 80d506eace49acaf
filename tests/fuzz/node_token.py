"""Fuzzing the node-token check: a bearer token and its body to ``partners.tokens.verify_node_token``
(``tests.fuzz.targets.node_token``).

The only refusal allowed out is ``InvalidNodeToken`` (docs/protocol.md, section 7, answered 401);
anything else, or an accepted token that breaks a rule of section 7, is a crash. Seeds: tokens the
host issues with ``issue_node_token``, valid and refused, plain and in the ``SIGNED`` form.

Example::

    python -m tests.fuzz.node_token -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

from tests.fuzz.campaign import INSTRUMENTED, arguments

with atheris.instrument_imports(include=list(INSTRUMENTED)):
    from tests.fuzz import mutator, seeds, targets


def TestOneInput(data: bytes) -> None:  # noqa: N802 (the names libFuzzer harnesses share)
    targets.node_token(data)


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:  # noqa: N802
    return mutator.mutate(data, max_size, seed, fallback=atheris.Mutate)


def main() -> None:
    options = arguments(
        sys.argv,
        name="node_token",
        seeds=seeds.token_seeds(),
        words=seeds.dictionary_words(),
        max_len=4096,
    )
    atheris.Setup(options, TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
