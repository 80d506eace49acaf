"""RFC 9162 Merkle trees (``crypto.merkle``) against published vectors and the RFC's own definitions.

The known answers are those of transparency-dev/merkle (``proof/verify_test.go`` and
``rfc6962/rfc6962_test.go``), which carry the Certificate Transparency reference vectors: eight
test entries, the roots of their first 1 to 8 entries, and inclusion and consistency proofs in
those trees. The properties compare the module with a naive transcription of the RFC's recursive
definitions of MTH, PATH and PROOF (section 2.1), written here over raw entries and with hashlib
directly, so that neither the module's iteration nor its hashing is trusted by its own tests.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.merkle import (
    EMPTY_ROOT,
    HASH_BYTES,
    Frontier,
    consistency_proof,
    fold,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root,
    subtree_root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

# --- Known answers (transparency-dev/merkle, proof/verify_test.go) ------------------------------

ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAF_HASHES = [leaf_hash(e) for e in ENTRIES]
ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# (index, size, proof). The Go file numbers leaves from 1; these indices are its ``leaf - 1``.
INCLUSION_PROOFS = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old_size, new_size, proof)
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _known_root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size])


def _hashes(proof: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in proof]


# --- The RFC's definitions, transcribed naively (RFC 9162 section 2.1) ---------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _largest_power_of_two_below(n)
    return _sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if whole else [ref_mth(entries)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], whole), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


# --- Strategies and helpers ----------------------------------------------------------------------

# Distinct entries, so that no two leaves share a hash and a proof can only fit where it was made.
LOGS = st.lists(st.binary(max_size=8), unique=True, max_size=40)
NON_EMPTY_LOGS = st.lists(st.binary(max_size=8), unique=True, min_size=1, max_size=40)


@st.composite
def log_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    entries = draw(NON_EMPTY_LOGS)
    return entries, draw(st.integers(0, len(entries) - 1))


@st.composite
def log_with_prefix_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    """A log, the size of a prefix of it, and an entry in that prefix."""
    entries = draw(NON_EMPTY_LOGS)
    size = draw(st.integers(1, len(entries)))
    return entries, size, draw(st.integers(0, size - 1))


@st.composite
def log_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    entries = draw(NON_EMPTY_LOGS)
    new_size = draw(st.integers(1, len(entries)))
    return entries, draw(st.integers(1, new_size)), new_size


def _flip(value: bytes, byte: int = 0) -> bytes:
    return value[:byte] + bytes([value[byte] ^ 0x10]) + value[byte + 1 :]


def _prefix_roots(entries: list[bytes]) -> list[bytes]:
    """The root of every prefix of the log, 0 to ``len(entries)``, in one pass."""
    frontier = Frontier()
    roots = [frontier.root()]
    for entry in entries:
        frontier = frontier.append(leaf_hash(entry))
        roots.append(frontier.root())
    return roots


def _proof_of_inclusion(entries: list[bytes], index: int, size: int) -> list[bytes]:
    leaves = [leaf_hash(e) for e in entries[:size]]
    return inclusion_proof(index, size, subtree_root_from_leaves(leaves))


def _proof_of_consistency(entries: list[bytes], old_size: int, new_size: int) -> list[bytes]:
    leaves = [leaf_hash(e) for e in entries[:new_size]]
    return consistency_proof(old_size, new_size, subtree_root_from_leaves(leaves))


def _spliced(proof: list[bytes], extra: bytes) -> list[list[bytes]]:
    """The proof with one hash cut from either end or one added at either end."""
    return [proof[:-1], proof[1:], [*proof, extra], [extra, *proof]]


# --- Tests ---------------------------------------------------------------------------------------


class TestHashing:
    def test_empty_root_is_sha256_of_nothing(self) -> None:
        assert EMPTY_ROOT.hex() == (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )

    def test_empty_leaf_hash_differs_from_the_empty_root(self) -> None:
        assert leaf_hash(b"").hex() == (
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        )

    def test_leaf_hash_matches_the_rfc6962_vector(self) -> None:
        assert leaf_hash(b"L123456").hex() == (
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        )

    def test_node_hash_matches_the_rfc6962_vector(self) -> None:
        assert node_hash(b"N123", b"N456").hex() == (
            "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
        )

    def test_a_node_cannot_pass_for_a_leaf_over_its_childrens_bytes(self) -> None:
        left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
        assert node_hash(left, right) != leaf_hash(left + right)

    def test_node_hash_depends_on_the_order_of_children(self) -> None:
        left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
        assert node_hash(left, right) != node_hash(right, left)


class TestRoot:
    def test_empty_log_has_the_empty_root(self) -> None:
        assert root([]) == EMPTY_ROOT

    @pytest.mark.parametrize("size", sorted(ROOTS))
    def test_root_matches_the_certificate_transparency_vector(self, size: int) -> None:
        assert root(LEAF_HASHES[:size]).hex() == ROOTS[size]

    @pytest.mark.parametrize("size", sorted(ROOTS))
    def test_reference_transcription_matches_the_vector(self, size: int) -> None:
        # Guards the reference the properties below lean on.
        assert ref_mth(ENTRIES[:size]).hex() == ROOTS[size]

    @given(entries=st.lists(st.binary(max_size=8), max_size=70))
    def test_root_equals_the_rfc_definition(self, entries: list[bytes]) -> None:
        assert root([leaf_hash(e) for e in entries]) == ref_mth(entries)


class TestFrontier:
    def test_empty_frontier_has_the_empty_root(self) -> None:
        assert Frontier().size == 0
        assert Frontier().root() == EMPTY_ROOT

    @pytest.mark.parametrize("size", sorted(ROOTS))
    def test_appending_the_vector_entries_gives_the_known_root(self, size: int) -> None:
        assert Frontier().extend(LEAF_HASHES[:size]).root().hex() == ROOTS[size]

    @given(entries=LOGS)
    def test_root_after_each_append_equals_root_over_the_prefix(self, entries: list[bytes]) -> None:
        leaves = [leaf_hash(e) for e in entries]
        frontier = Frontier()
        for size, leaf in enumerate(leaves, start=1):
            frontier = frontier.append(leaf)
            assert frontier.size == size
            assert frontier.root() == root(leaves[:size])

    @given(entries=LOGS)
    def test_hashes_are_the_perfect_subtrees_that_tile_the_log(self, entries: list[bytes]) -> None:
        frontier = Frontier().extend(leaf_hash(e) for e in entries)
        expected, start = [], 0
        for bit in reversed(range(len(entries).bit_length())):
            if len(entries) >> bit & 1:
                expected.append(ref_mth(entries[start : start + (1 << bit)]))
                start += 1 << bit
        assert list(frontier.hashes) == expected

    def test_append_leaves_the_original_unchanged(self) -> None:
        before = Frontier().extend(LEAF_HASHES[:3])
        snapshot = (before.size, before.hashes)
        before.append(LEAF_HASHES[3])
        assert (before.size, before.hashes) == snapshot

    @given(entries=LOGS)
    def test_bytes_round_trip(self, entries: list[bytes]) -> None:
        frontier = Frontier().extend(leaf_hash(e) for e in entries)
        assert Frontier.from_bytes(frontier.to_bytes()) == frontier

    def test_stored_form_is_size_then_hashes(self) -> None:
        frontier = Frontier().extend(LEAF_HASHES[:3])
        assert frontier.to_bytes() == (3).to_bytes(8, "big") + b"".join(frontier.hashes)

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            bytes(7),
            (3).to_bytes(8, "big") + bytes(HASH_BYTES),
            (3).to_bytes(8, "big") + bytes(3 * HASH_BYTES),
            (0).to_bytes(8, "big") + bytes(1),
        ],
        ids=["empty", "short-size", "missing-hash", "extra-hash", "trailing-byte"],
    )
    def test_from_bytes_refuses_a_malformed_row(self, data: bytes) -> None:
        with pytest.raises(ValueError, match="stored frontier"):
            Frontier.from_bytes(data)

    def test_constructor_refuses_a_hash_count_that_does_not_fit_the_size(self) -> None:
        with pytest.raises(ValueError, match="subtree roots"):
            Frontier(3, [SOME_HASH])

    def test_constructor_refuses_a_hash_of_the_wrong_length(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            Frontier(1, [SOME_HASH[:-1]])

    def test_constructor_refuses_a_negative_size(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            Frontier(-1, [])

    def test_append_refuses_a_leaf_hash_of_the_wrong_length(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            Frontier().append(b"entry, not its hash")


class TestInclusionProof:
    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
    def test_proof_matches_the_known_vector(self, index: int, size: int, proof: list[str]) -> None:
        accessor = subtree_root_from_leaves(LEAF_HASHES[:size])
        assert inclusion_proof(index, size, accessor) == _hashes(proof)

    def test_single_entry_log_needs_no_proof(self) -> None:
        assert inclusion_proof(0, 1, subtree_root_from_leaves(LEAF_HASHES[:1])) == []

    @given(case=log_and_index())
    def test_proof_equals_the_rfc_path(self, case: tuple[list[bytes], int]) -> None:
        entries, index = case
        assert _proof_of_inclusion(entries, index, len(entries)) == ref_path(index, entries)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 3)])
    def test_index_outside_the_log_is_refused(self, index: int, size: int) -> None:
        with pytest.raises(ValueError, match="no entry"):
            inclusion_proof(index, size, subtree_root_from_leaves(LEAF_HASHES[:size]))

    def test_accessor_refuses_a_range_outside_the_leaves(self) -> None:
        with pytest.raises(ValueError, match="no leaves"):
            inclusion_proof(0, 9, subtree_root_from_leaves(LEAF_HASHES))


class TestVerifyInclusion:
    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
    def test_known_vector_verifies(self, index: int, size: int, proof: list[str]) -> None:
        assert verify_inclusion(LEAF_HASHES[index], index, size, _hashes(proof), _known_root(size))

    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
    def test_known_vector_corruptions_fail(self, index: int, size: int, proof: list[str]) -> None:
        # The probes of transparency-dev's corruptInclusionProof, all against the true root.
        good, leaf, head = _hashes(proof), LEAF_HASHES[index], _known_root(size)
        probes = [
            (leaf, index - 1, size, good, head),
            (leaf, index + 1, size, good, head),
            (leaf, index ^ 2, size, good, head),
            (leaf, index, size * 2, good, head),
            (leaf, index, size // 2, good, head),
            (leaf_hash(b"WrongLeaf"), index, size, good, head),
            (leaf, index, size, good, EMPTY_ROOT),
            (leaf, index, size, good, SOME_HASH),
            (leaf, index, size, [*good, head], head),
            (leaf, index, size, [head, *good], head),
            (leaf, index, size, good[:-1], head),
            (leaf, index, size, [good[0], SOME_HASH, *good[1:]], head),
        ]
        probes += [
            (leaf, index, size, [*good[:i], _flip(good[i]), *good[i + 1 :]], head)
            for i in range(len(good))
        ]
        assert not any(verify_inclusion(*probe) for probe in probes)

    def test_single_entry_log_proves_its_leaf_with_an_empty_proof(self) -> None:
        leaf = leaf_hash(b"data")
        assert verify_inclusion(leaf, 0, 1, [], leaf)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (2, 1), (-1, 1)])
    def test_index_outside_the_log_fails(self, index: int, size: int) -> None:
        leaf = leaf_hash(b"data")
        assert not verify_inclusion(leaf, index, size, [], leaf)

    @pytest.mark.parametrize(
        ("leaf", "head"),
        [(b"", b""), (SOME_HASH[:-1], SOME_HASH[:-1]), (SOME_HASH + b"\x00", SOME_HASH + b"\x00")],
    )
    def test_hashes_of_the_wrong_length_fail(self, leaf: bytes, head: bytes) -> None:
        assert not verify_inclusion(leaf, 0, 1, [], head)

    def test_proof_element_of_the_wrong_length_fails(self) -> None:
        proof = [*_hashes(INCLUSION_PROOFS[0][2])[:2], SOME_HASH[:31]]
        assert not verify_inclusion(LEAF_HASHES[0], 0, 8, proof, _known_root(8))

    @given(case=log_and_index())
    def test_every_generated_proof_verifies(self, case: tuple[list[bytes], int]) -> None:
        entries, index = case
        proof = _proof_of_inclusion(entries, index, len(entries))
        assert verify_inclusion(
            leaf_hash(entries[index]), index, len(entries), proof, ref_mth(entries)
        )

    @given(case=log_and_index())
    def test_tampering_with_the_proof_fails(self, case: tuple[list[bytes], int]) -> None:
        entries, index = case
        size, leaf, head = len(entries), leaf_hash(entries[index]), ref_mth(entries)
        proof = _proof_of_inclusion(entries, index, size)
        for i in range(len(proof)):
            for byte in (0, HASH_BYTES - 1):
                tampered = [*proof[:i], _flip(proof[i], byte), *proof[i + 1 :]]
                assert not verify_inclusion(leaf, index, size, tampered, head)
        for spliced in _spliced(proof, head):
            if spliced != proof:
                assert not verify_inclusion(leaf, index, size, spliced, head)

    @given(case=log_and_index())
    def test_another_leaf_or_root_fails(self, case: tuple[list[bytes], int]) -> None:
        entries, index = case
        size, head = len(entries), ref_mth(entries)
        proof = _proof_of_inclusion(entries, index, size)
        others = [leaf_hash(e) for i, e in enumerate(entries) if i != index]
        for wrong in [_flip(leaf_hash(entries[index])), leaf_hash(entries[index] + b"!"), *others]:
            assert not verify_inclusion(wrong, index, size, proof, head)
        assert not verify_inclusion(leaf_hash(entries[index]), index, size, proof, _flip(head))

    @given(case=log_and_index())
    def test_another_index_fails(self, case: tuple[list[bytes], int]) -> None:
        entries, index = case
        size, leaf, head = len(entries), leaf_hash(entries[index]), ref_mth(entries)
        proof = _proof_of_inclusion(entries, index, size)
        for other in range(-1, size + 2):
            if other != index:
                assert not verify_inclusion(leaf, other, size, proof, head)

    @given(case=log_with_prefix_and_index())
    def test_another_size_with_its_true_root_fails(
        self, case: tuple[list[bytes], int, int]
    ) -> None:
        # A root says nothing of its size, so a claimed size is only meaningful with the root the
        # log really has at that size: a signed checkpoint pairs the two.
        entries, size, index = case
        roots = _prefix_roots(entries)
        proof = _proof_of_inclusion(entries, index, size)
        for other in range(len(roots)):
            if other != size:
                assert not verify_inclusion(
                    leaf_hash(entries[index]), index, other, proof, roots[other]
                )


class TestConsistencyProof:
    @pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_PROOFS)
    def test_proof_matches_the_known_vector(
        self, old_size: int, new_size: int, proof: list[str]
    ) -> None:
        accessor = subtree_root_from_leaves(LEAF_HASHES[:new_size])
        assert consistency_proof(old_size, new_size, accessor) == _hashes(proof)

    @pytest.mark.parametrize(("old_size", "new_size"), [(0, 0), (0, 5), (5, 5)])
    def test_nothing_to_prove_gives_an_empty_proof(self, old_size: int, new_size: int) -> None:
        accessor = subtree_root_from_leaves(LEAF_HASHES[:new_size])
        assert consistency_proof(old_size, new_size, accessor) == []

    @given(case=log_and_sizes())
    def test_proof_equals_the_rfc_proof(self, case: tuple[list[bytes], int, int]) -> None:
        entries, old_size, new_size = case
        expected = ref_proof(old_size, entries[:new_size])
        assert _proof_of_consistency(entries, old_size, new_size) == expected

    @pytest.mark.parametrize(("old_size", "new_size"), [(6, 5), (-1, 5), (1, -1)])
    def test_impossible_sizes_are_refused(self, old_size: int, new_size: int) -> None:
        with pytest.raises(ValueError, match="cannot grow"):
            consistency_proof(old_size, new_size, subtree_root_from_leaves(LEAF_HASHES))


class TestVerifyConsistency:
    @pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_PROOFS)
    def test_known_vector_verifies(self, old_size: int, new_size: int, proof: list[str]) -> None:
        old_root, new_root = _known_root(old_size), _known_root(new_size)
        assert verify_consistency(old_size, new_size, old_root, new_root, _hashes(proof))

    @pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_PROOFS[1:])
    def test_known_vector_corruptions_fail(
        self, old_size: int, new_size: int, proof: list[str]
    ) -> None:
        # The probes of transparency-dev's corruptConsistencyProof, all against the true roots.
        good, old, new = _hashes(proof), _known_root(old_size), _known_root(new_size)
        m, n = old_size, new_size
        probes = [
            (m - 1, n, old, new, good),
            (m + 1, n, old, new, good),
            (m ^ 2, n, old, new, good),
            (m, n * 2, old, new, good),
            (m, n // 2, old, new, good),
            (m, n, leaf_hash(b"WrongRoot"), new, good),
            (m, n, old, leaf_hash(b"WrongRoot"), good),
            (m, n, new, old, good),
            (m, n, old, new, []),
            (m, n, old, new, [*good, old]),
            (m, n, old, new, [*good, new]),
            (m, n, old, new, [old, *good]),
            (m, n, old, new, [new, *good]),
            (m, n, old, new, [good[0], *good]),
            (m, n, old, new, good[:-1]),
        ]
        probes += [
            (m, n, old, new, [*good[:i], _flip(good[i]), *good[i + 1 :]]) for i in range(len(good))
        ]
        assert not any(verify_consistency(*probe) for probe in probes)

    def test_empty_log_is_consistent_with_any_log_given_no_proof(self) -> None:
        assert verify_consistency(0, 8, EMPTY_ROOT, _known_root(8), [])
        assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])

    def test_empty_log_fails_with_a_proof(self) -> None:
        assert not verify_consistency(0, 8, EMPTY_ROOT, _known_root(8), [EMPTY_ROOT])

    def test_empty_log_fails_with_a_root_other_than_the_empty_root(self) -> None:
        assert not verify_consistency(0, 8, SOME_HASH, _known_root(8), [])

    def test_equal_sizes_need_equal_roots_and_no_proof(self) -> None:
        head = _known_root(5)
        assert verify_consistency(5, 5, head, head, [])
        assert not verify_consistency(5, 5, head, _known_root(4), [])
        assert not verify_consistency(5, 5, head, head, [head])

    @pytest.mark.parametrize(("old_size", "new_size"), [(2, 1), (1, 0), (-1, 1)])
    def test_a_log_that_shrank_fails(self, old_size: int, new_size: int) -> None:
        assert not verify_consistency(old_size, new_size, SOME_HASH, SOME_HASH, [])

    def test_roots_of_the_wrong_length_fail(self) -> None:
        assert not verify_consistency(5, 5, b"root", b"root", [])

    def test_proof_element_of_the_wrong_length_fails(self) -> None:
        proof = [*_hashes(CONSISTENCY_PROOFS[1][2])[:2], SOME_HASH[:31]]
        assert not verify_consistency(1, 8, _known_root(1), _known_root(8), proof)

    @given(case=log_and_sizes())
    def test_every_generated_proof_verifies(self, case: tuple[list[bytes], int, int]) -> None:
        entries, old_size, new_size = case
        proof = _proof_of_consistency(entries, old_size, new_size)
        old_root, new_root = ref_mth(entries[:old_size]), ref_mth(entries[:new_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)

    @given(case=log_and_sizes())
    def test_tampering_with_the_proof_fails(self, case: tuple[list[bytes], int, int]) -> None:
        entries, old_size, new_size = case
        proof = _proof_of_consistency(entries, old_size, new_size)
        old_root, new_root = ref_mth(entries[:old_size]), ref_mth(entries[:new_size])
        for i in range(len(proof)):
            for byte in (0, HASH_BYTES - 1):
                tampered = [*proof[:i], _flip(proof[i], byte), *proof[i + 1 :]]
                assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
        for spliced in _spliced(proof, new_root):
            if spliced != proof:
                assert not verify_consistency(old_size, new_size, old_root, new_root, spliced)

    @given(case=log_and_sizes())
    def test_another_root_fails(self, case: tuple[list[bytes], int, int]) -> None:
        entries, old_size, new_size = case
        proof = _proof_of_consistency(entries, old_size, new_size)
        old_root, new_root = ref_mth(entries[:old_size]), ref_mth(entries[:new_size])
        assert not verify_consistency(old_size, new_size, _flip(old_root), new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, _flip(new_root), proof)
        if old_root != new_root:
            assert not verify_consistency(old_size, new_size, new_root, old_root, proof)

    @settings(max_examples=50)
    @given(case=log_and_sizes())
    def test_other_sizes_with_their_true_roots_fail(
        self, case: tuple[list[bytes], int, int]
    ) -> None:
        # As for inclusion: a claimed size is checked together with the root the log has there.
        entries, old_size, new_size = case
        roots = _prefix_roots(entries)
        proof = _proof_of_consistency(entries, old_size, new_size)
        if not proof:
            return  # Equal sizes: nothing was proved, so nothing can be misapplied.
        for old in range(len(roots)):
            for new in range(old, len(roots)):
                if (old, new) != (old_size, new_size):
                    assert not verify_consistency(old, new, roots[old], roots[new], proof)


class TestStoredNodes:
    """The nodes ``append_nodes`` names are enough to serve every subtree a proof asks for."""

    @given(count=st.integers(1, 70))
    def test_append_nodes_names_every_completed_subtree(self, count: int) -> None:
        leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]
        frontier = Frontier()
        store: dict[tuple[int, int], bytes] = {}
        for leaf in leaves:
            frontier, nodes = frontier.append_nodes(leaf)
            store.update({(level, index): h for level, index, h in nodes})

        assert frontier == Frontier().extend(leaves)
        for (level, index), value in store.items():
            span = 1 << level
            assert value == root(leaves[index * span : (index + 1) * span])

        def stored(start: int, end: int) -> bytes:
            return fold([store[block] for block in perfect_subtrees(start, end)])

        for index in range(count):
            proof = inclusion_proof(index, count, stored)
            assert proof == inclusion_proof(index, count, subtree_root_from_leaves(leaves))
        for old in range(count + 1):
            assert consistency_proof(old, count, stored) == consistency_proof(
                old, count, subtree_root_from_leaves(leaves)
            )

    def test_perfect_subtrees_tile_a_range_largest_first(self) -> None:
        assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
        assert perfect_subtrees(8, 12) == [(2, 2)]
        assert perfect_subtrees(4, 7) == [(1, 2), (0, 6)]
        assert perfect_subtrees(5, 5) == []
