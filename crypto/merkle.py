"""Merkle trees for the tamper-evident access log, as RFC 9162 (and RFC 6962 before it) define them.

A log of ``n`` entries has one root, ``MTH(D[n])``; a checkpoint signs that root and size. An
inclusion proof shows that one entry is in a checkpointed log; a consistency proof shows that a
later checkpoint only appended to an earlier one. Everything here is pure: hashes in, hashes out,
no I/O and no clock. We implement the RFC's few small algorithms ourselves rather than depend on
pymerkle, which is GPLv3 and pins its dependencies.

Invariants:

- ``leaf_hash(e) = SHA-256(0x00 || e)`` and ``node_hash(l, r) = SHA-256(0x01 || l || r)``, so a
  leaf can never be passed off as an inner node (second-preimage resistance); the empty log's root
  is ``SHA-256("")``.
- Every hash is 32 bytes; the verifiers treat anything else as a failed proof.
- The verifiers return ``False`` for every malformed or wrong proof and never raise; generation
  raises ``ValueError`` only when the caller asks for something that cannot exist (an index outside
  the log, an old size larger than the new one).

Example::

    >>> leaves = [leaf_hash(e) for e in (b"a", b"b", b"c")]
    >>> head = root(leaves)
    >>> Frontier().extend(leaves).root() == head
    True
    >>> proof = inclusion_proof(1, 3, subtree_root_from_leaves(leaves))
    >>> verify_inclusion(leaves[1], 1, 3, proof, head)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from crypto import _primitives

HASH_BYTES = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_SIZE_BYTES = 8

#: The root of the empty log, ``SHA-256("")`` (RFC 9162 section 2.1.1).
EMPTY_ROOT = _primitives.sha256(b"")

#: Returns ``MTH(D[start:end])``, the root of the leaves ``start`` (inclusive) to ``end``
#: (exclusive). Proof generation asks only for ranges with ``0 <= start < end <= size``.
SubtreeRoot = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one log entry as a leaf; the 0x00 prefix keeps it apart from inner nodes."""
    return _primitives.sha256(_LEAF_PREFIX + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node over its two children, left first."""
    return _primitives.sha256(_NODE_PREFIX + left + right)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` over the given leaf hashes: the value a checkpoint signs.

    Costs one SHA-256 per inner node (``n - 1`` for ``n`` leaves) and no copies of the input.
    """
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    # Hashing level by level, with an odd last node carried up unchanged, builds exactly the RFC's
    # tree: its left subtrees are always perfect, so the carried node is the one the RFC's split at
    # the largest power of two would pair later.
    if start == end:
        return EMPTY_ROOT
    hash_node = node_hash
    level = [hash_node(leaf_hashes[i], leaf_hashes[i + 1]) for i in range(start, end - 1, 2)]
    if (end - start) % 2:
        level.append(leaf_hashes[end - 1])
    while len(level) > 1:
        paired = [hash_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def subtree_root_from_leaves(leaf_hashes: Sequence[bytes]) -> SubtreeRoot:
    """A ``SubtreeRoot`` for proof generation when the caller holds every leaf hash.

    Each call hashes its range afresh. The ranges one proof asks for never overlap, so one proof
    costs at most one pass over the log (about ``n`` SHA-256 calls); a caller that keeps the roots
    of perfect subtrees can pass its own ``SubtreeRoot`` and pay ``O(log n)`` instead.
    """

    def subtree_root(start: int, end: int) -> bytes:
        if not 0 <= start < end <= len(leaf_hashes):
            raise ValueError(f"no leaves [{start}, {end}) in a log of {len(leaf_hashes)}")
        return _range_root(leaf_hashes, start, end)

    return subtree_root


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The aligned perfect subtrees ``(level, index)`` that tile ``[start, end)``, left to right.

    For a range the RFC's tree has as a subtree (every range a proof asks for), they are its
    largest-first decomposition, and folding their roots from the right gives its root.
    """
    blocks = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        blocks.append((level, start >> level))
        start += 1 << level
    return blocks


def fold(roots: Sequence[bytes]) -> bytes:
    """The root over perfect subtree roots given left to right (largest first)."""
    result = roots[-1]
    for left in reversed(roots[:-1]):
        result = node_hash(left, result)
    return result


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): where the RFC splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The log's compact range: its size and the roots of its perfect subtrees, largest first.

    This is all that is needed to compute the root after each appended entry, in ``O(log n)``
    hashes and ``O(log n)`` storage, without reading the log. A frontier is a value: ``append`` and
    ``extend`` return a new one and leave this one untouched, so a stored checkpoint cannot change
    under its holder. ``to_bytes``/``from_bytes`` give the form a database row keeps.
    """

    __slots__ = ("_hashes", "_size")

    _hashes: tuple[bytes, ...]
    _size: int

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Check that ``hashes`` has one 32-byte root per set bit of ``size``."""
        if size < 0:
            raise ValueError("a log cannot have a negative size")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a log of {size} entries has {size.bit_count()} subtree roots")
        if any(len(h) != HASH_BYTES for h in hashes):
            raise ValueError(f"every subtree root must be {HASH_BYTES} bytes")
        self._size = size
        self._hashes = tuple(hashes)

    @classmethod
    def _unchecked(cls, size: int, hashes: tuple[bytes, ...]) -> Frontier:
        # Appending keeps the invariant by construction, so it skips the constructor's checks.
        frontier = cls.__new__(cls)
        frontier._size = size
        frontier._hashes = hashes
        return frontier

    @property
    def size(self) -> int:
        """How many entries the log holds."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The roots of the perfect subtrees that tile the log, left (largest) to right."""
        return self._hashes

    def append(self, leaf_hash: bytes) -> Frontier:
        """The frontier of this log with one more entry, given that entry's leaf hash."""
        if len(leaf_hash) != HASH_BYTES:
            raise ValueError(f"a leaf hash must be {HASH_BYTES} bytes")
        hashes = list(self._hashes)
        merged = leaf_hash
        size = self._size
        # Each trailing one bit of the old size is a perfect subtree of the same height as the
        # one being carried, so the two merge, exactly as a binary counter carries.
        while size & 1:
            merged = node_hash(hashes.pop(), merged)
            size >>= 1
        hashes.append(merged)
        return Frontier._unchecked(self._size + 1, tuple(hashes))

    def append_nodes(self, leaf_hash: bytes) -> tuple[Frontier, list[tuple[int, int, bytes]]]:
        """As ``append``, also naming every perfect subtree the new entry completes.

        Each is ``(level, index, hash)``: the leaf itself at level 0, index ``size``, then each
        merged subtree of ``2**level`` leaves, the ``index``-th of its level. A store that keeps
        them all can serve any proof with ``O(log n)`` lookups per subtree (``stored_subtree_root``).
        """
        if len(leaf_hash) != HASH_BYTES:
            raise ValueError(f"a leaf hash must be {HASH_BYTES} bytes")
        hashes = list(self._hashes)
        merged = leaf_hash
        position = self._size
        nodes = [(0, position, leaf_hash)]
        level = 0
        while position & 1:
            merged = node_hash(hashes.pop(), merged)
            position >>= 1
            level += 1
            nodes.append((level, position, merged))
        hashes.append(merged)
        return Frontier._unchecked(self._size + 1, tuple(hashes)), nodes

    def extend(self, leaf_hashes: Iterable[bytes]) -> Frontier:
        """The frontier of this log with all the given entries appended, in order."""
        frontier = self
        for leaf in leaf_hashes:
            frontier = frontier.append(leaf)
        return frontier

    def root(self) -> bytes:
        """``MTH`` of the whole log, equal to ``root()`` over all its leaf hashes."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result

    def to_bytes(self) -> bytes:
        """The size as 8 big-endian bytes, then the subtree roots in order."""
        return self._size.to_bytes(_SIZE_BYTES, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """The frontier ``to_bytes`` wrote; ``ValueError`` if ``data`` is not one."""
        if len(data) < _SIZE_BYTES:
            raise ValueError("a stored frontier starts with its 8-byte size")
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        body = data[_SIZE_BYTES:]
        if len(body) != size.bit_count() * HASH_BYTES:
            raise ValueError(f"a stored frontier of size {size} has the wrong length")
        hashes = [body[i : i + HASH_BYTES] for i in range(0, len(body), HASH_BYTES)]
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __hash__(self) -> int:
        return hash((self._size, self._hashes))

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, hashes=[{', '.join(h.hex() for h in self._hashes)}])"


def inclusion_proof(index: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """``PATH(index, D[size])`` of RFC 9162 section 2.1.3.1: proof that entry ``index`` is in the log.

    Asks ``subtree_root`` for about ``log2(size)`` disjoint ranges; the proof lists them from the
    leaf's sibling up to the root's other child.
    """
    if not 0 <= index < size:
        raise ValueError(f"no entry {index} in a log of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, taking at each split the half that does not hold the leaf.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            proof.append(subtree_root(middle, end))
            end = middle
        else:
            proof.append(subtree_root(start, middle))
            start = middle
    proof.reverse()
    return proof


def consistency_proof(old_size: int, new_size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """``PROOF(old_size, D[new_size])`` of RFC 9162 section 2.1.4.1: proof that one log extends another.

    Empty when there is nothing to prove (``old_size`` of 0 or equal to ``new_size``). Asks
    ``subtree_root`` for about ``log2(new_size)`` disjoint ranges.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a log of {old_size} entries cannot grow into one of {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end = 0, new_size
    old_end = old_size
    old_tree_is_a_node_here = True
    # Walk down SUBPROOF until the old tree is exactly one subtree [start, end); the RFC then
    # needs that subtree's root too, unless it is the whole old tree the verifier already holds.
    while old_end != end:
        middle = start + _split(end - start)
        if old_end <= middle:
            proof.append(subtree_root(middle, end))
            end = middle
        else:
            proof.append(subtree_root(start, middle))
            start = middle
            old_tree_is_a_node_here = False
    if not old_tree_is_a_node_here:
        proof.append(subtree_root(start, end))
    proof.reverse()
    return proof


def _is_hash(value: bytes) -> bool:
    return len(value) == HASH_BYTES


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the log of ``size`` with ``root``.

    The algorithm of RFC 9162 section 2.1.3.2, step for step, plus a length check on every hash.
    """
    if not (0 <= index < size and _is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the log of ``new_size`` with ``new_root`` extends the older one.

    For ``0 < old_size < new_size`` this is the algorithm of RFC 9162 section 2.1.4.2, step for
    step. The RFC leaves the other sizes out; here, as in its generation rules, the empty log is
    consistent with every log and a log with itself, each only with an empty proof and only when
    the roots match what those sizes imply.
    """
    if not (0 <= old_size <= new_size and _is_hash(old_root) and _is_hash(new_root)):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    return _verify_consistency_path(old_size, new_size, old_root, new_root, list(proof))


def _verify_consistency_path(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    # The RFC's names, so the steps can be checked against section 2.1.4.2 line by line.
    if not path:
        return False
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
