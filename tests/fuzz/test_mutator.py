"""The structure-aware mutator: repeatable from libFuzzer's seed, and it keeps an input's form."""

from __future__ import annotations

import json

from crypto.encoding import b64decode
from tests.fuzz import mutator, seeds, targets


def unchanged(data: bytes, max_size: int) -> bytes:
    """Stands in for libFuzzer's byte mutation (``atheris.Mutate``), which needs a fuzzer."""
    return data[:max_size]


class TestMutate:
    def test_the_same_seed_makes_the_same_mutation(self) -> None:
        for seed in seeds.envelope_seeds():
            for number in range(20):
                first = mutator.mutate(seed, 8192, number, fallback=unchanged)
                assert mutator.mutate(seed, 8192, number, fallback=unchanged) == first

    def test_a_signed_input_stays_signed_with_as_many_parts(self) -> None:
        seed = seeds.signed_seed(seeds.POSITIVE_HEADER, seeds.POSITIVE_PLAINTEXT)
        for number in range(200):
            changed = mutator.mutate(seed, 8192, number, fallback=unchanged)
            assert changed.startswith(targets.SIGNED)
            assert changed.count(targets.PART) == 1

    def test_a_change_inside_a_base64url_member_keeps_it_base64url(self) -> None:
        body = next(seeds.envelope_seeds())
        headers = set()
        for number in range(200):
            try:
                wire = json.loads(mutator.mutate(body, 8192, number, fallback=unchanged))
                headers.add(b64decode(wire["header"]))
            except (ValueError, RecursionError, TypeError, KeyError):
                # Changed elsewhere: not an object, or another member, or nested too deep.
                continue
        assert len(headers) > 10

    def test_nothing_longer_than_libfuzzers_bound_comes_out(self) -> None:
        for seed in seeds.bundle_seeds():
            for number in range(10):
                assert len(mutator.mutate(seed, 600, number, fallback=unchanged)) <= 600
