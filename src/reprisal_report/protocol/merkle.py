"""Merkle tree hashing of RFC 6962 / RFC 9162, for the relay's append-only log.

- leaf hash: ``SHA-256(0x00 || data)``; node hash: ``SHA-256(0x01 || left || right)``.
  The prefixes keep a leaf from ever being passed off as an interior node.
- the tree over ``n`` leaves splits at the largest power of two below ``n`` (not the
  midpoint), so every root and proof here agrees with Certificate Transparency logs.
- in the relay, a leaf's data is the 32-byte SHA-256 of a bundle file.

The verifiers (``verify_inclusion``, ``verify_consistency``) follow RFC 9162 §2.1.3.2
and §2.1.4.2 step by step; they return ``False`` for anything that does not prove
what is claimed, including malformed input, and never raise. The generators raise
``ValueError`` when asked for a proof that cannot exist: their callers validate
sizes first.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


class MerkleTree:
    """An append-only tree that caches the hash of every complete, aligned subtree.

    ``_levels[h][i]`` is the hash of leaves ``[i * 2**h, (i + 1) * 2**h)``. An append
    adds at most one node per level, so the cache costs about two hashes per leaf and
    O(log n) work per append. Every left branch in the RFC 6962 recursion is such a
    complete aligned subtree, so a root or proof for any size costs O(log n) hashes
    instead of recomputing the tree.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for data in leaves:
            self.append(data)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Add a leaf (its data, not its hash); return its index."""
        self._levels[0].append(leaf_hash(data))
        index = self.size - 1
        level = 0
        # An odd index closes a pair: hash it into the level above, and so on upward.
        while index % 2 == 1:
            if level + 1 == len(self._levels):
                self._levels.append([])
            nodes = self._levels[level]
            self._levels[level + 1].append(node_hash(nodes[index - 1], nodes[index]))
            level += 1
            index //= 2
        return self.size - 1

    def leaf_hash_at(self, index: int) -> bytes:
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]); the whole tree when ``size`` is None."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError("leaf index outside the tree")
        return self._path(index, 0, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 §2.1.2; empty when nothing is to prove."""
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError("the first tree size must lie between 0 and the second")
        if first in (0, second):
            return []
        return self._subproof(first, 0, second, True)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError("tree size outside the log")

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a non-empty range of leaves the tree holds."""
        width = hi - lo
        if _is_power_of_two(width) and lo % width == 0:
            height = width.bit_length() - 1
            return self._levels[height][lo >> height]
        k = _split(width)
        return node_hash(self._subtree(lo, lo + k), self._subtree(lo + k, hi))

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        width = hi - lo
        if width == 1:
            return []
        k = _split(width)
        if m < k:
            return [*self._path(m, lo, lo + k), self._subtree(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._subtree(lo, lo + k)]

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        width = hi - lo
        if m == width:
            # ``whole``: the old tree head itself, which the verifier already holds.
            return [] if whole else [self._subtree(lo, hi)]
        k = _split(width)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._subtree(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._subtree(lo, lo + k)]


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over every leaf (leaf data, not leaf hashes)."""
    return MerkleTree(leaves).root()


def inclusion_proof(leaves: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    if not 0 <= tree_size <= len(leaves):
        raise ValueError("tree size outside the log")
    return MerkleTree(leaves[:tree_size]).inclusion_proof(index, tree_size)


def consistency_proof(leaves: Sequence[bytes], m: int, n: int) -> list[bytes]:
    if not 0 <= n <= len(leaves):
        raise ValueError("tree size outside the log")
    return MerkleTree(leaves[:n]).consistency_proof(m, n)


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(
    leaf_hash_input: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place this leaf at ``index`` under ``root``?

    ``leaf_hash_input`` is the leaf's data (for the relay: a bundle's SHA-256); the
    0x00-prefixed leaf hash is computed here, so a caller cannot pass an interior node.
    """
    if not isinstance(leaf_hash_input, bytes) or not _all_hashes(root, *proof):
        return False
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf_hash_input)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of size ``n`` an append-only extension of size ``m``?

    The two degenerate cases the RFC leaves to the caller: equal sizes need equal roots
    and an empty proof; the empty tree (``m == 0``) is a prefix of every tree.
    """
    if not _all_hashes(root_m, root_n, *proof):
        return False
    if not 0 <= m <= n:
        return False
    if m == n:
        return not proof and hmac.compare_digest(root_m, root_n)
    if m == 0:
        return not proof and hmac.compare_digest(root_m, EMPTY_ROOT)
    if not proof:
        return False
    path = [root_m, *proof] if _is_power_of_two(m) else list(proof)
    fn, sn = m - 1, n - 1
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
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return hmac.compare_digest(fr, root_m) and hmac.compare_digest(sr, root_n) and sn == 0
