"""RFC 6962 / RFC 9162 Merkle hashing of the relay log.

Known answers: the reference tree of Certificate Transparency (8 leaves), as published
in transparency-dev/merkle ``testonly/constants.go`` and reproduced by other RFC 6962
implementations. A log whose roots disagree with these proves nothing to anyone else.
Beyond them: every proof the generator produces for every size up to 40 verifies, and
every mangled proof, index, size or root fails.
"""

from __future__ import annotations

import hashlib

import pytest

from reprisal_report.protocol import merkle
from reprisal_report.protocol.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

H = bytes.fromhex

REFERENCE_LEAVES = [
    H(""),
    H("00"),
    H("10"),
    H("2021"),
    H("3031"),
    H("40414243"),
    H("5051525354555657"),
    H("606162636465666768696a6b6c6d6e6f"),
]

REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

REFERENCE_INCLUSION = [
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
]

REFERENCE_CONSISTENCY = [
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
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        2,
        8,
        [
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
]


def test_hashing_uses_the_rfc_prefixes() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)


@pytest.mark.parametrize("size", range(len(REFERENCE_ROOTS)))
def test_reference_roots(size: int) -> None:
    assert root(REFERENCE_LEAVES[:size]).hex() == REFERENCE_ROOTS[size]
    tree = MerkleTree(REFERENCE_LEAVES)
    assert tree.root(size).hex() == REFERENCE_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), REFERENCE_INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(REFERENCE_LEAVES, index, size)
    assert [p.hex() for p in proof] == expected
    assert verify_inclusion(REFERENCE_LEAVES[index], index, size, proof, H(REFERENCE_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "expected"), REFERENCE_CONSISTENCY)
def test_reference_consistency_proofs(first: int, second: int, expected: list[str]) -> None:
    proof = consistency_proof(REFERENCE_LEAVES, first, second)
    assert [p.hex() for p in proof] == expected
    assert verify_consistency(
        first, second, H(REFERENCE_ROOTS[first]), H(REFERENCE_ROOTS[second]), proof
    )


LIMIT = 40
# Leaf data shaped like the relay's: the SHA-256 of a bundle.
LEAVES = [hashlib.sha256(f"bundle {i}".encode()).digest() for i in range(LIMIT)]
TREE = MerkleTree(LEAVES)
ROOTS = [TREE.root(n) for n in range(LIMIT + 1)]


def _flip(value: bytes, position: int = 0) -> bytes:
    changed = bytearray(value)
    changed[position] ^= 0x01
    return bytes(changed)


def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Every cheap way to damage a proof: flip, drop, add, reorder."""
    out: list[list[bytes]] = [[*proof, b"\xab" * 32], [b"\xab" * 32, *proof]]
    for i in range(len(proof)):
        out.append([*proof[:i], _flip(proof[i], i % 32), *proof[i + 1 :]])
        out.append(proof[:i] + proof[i + 1 :])
    for i in range(len(proof) - 1):
        if proof[i] != proof[i + 1]:
            out.append([*proof[:i], proof[i + 1], proof[i], *proof[i + 2 :]])
    return out


def test_incremental_tree_agrees_with_fresh_trees() -> None:
    tree = MerkleTree()
    for n, data in enumerate(LEAVES, start=1):
        assert tree.append(data) == n - 1
        assert tree.root() == root(LEAVES[:n]) == ROOTS[n]
    assert ROOTS[0] == EMPTY_ROOT


def test_every_inclusion_proof_verifies_and_nothing_else_does() -> None:
    for n in range(1, LIMIT + 1):
        for i in range(n):
            proof = TREE.inclusion_proof(i, n)
            assert proof == inclusion_proof(LEAVES, i, n)
            assert verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n]), (i, n)
            assert not verify_inclusion(_flip(LEAVES[i]), i, n, proof, ROOTS[n])
            assert not verify_inclusion(LEAVES[i], i, n, proof, _flip(ROOTS[n], 31))
            # A leaf hash passed off as leaf data must not verify (second preimage).
            assert not verify_inclusion(leaf_hash(LEAVES[i]), i, n, proof, ROOTS[n])
            for other in {i - 1, i + 1, i ^ 2, n, -1} - {i}:
                assert not verify_inclusion(LEAVES[i], other, n, proof, ROOTS[n]), (other, n)
            # The size is bound by the signed tree head: another size's head must fail.
            for size in {n - 1, n + 1} - {n, 0}:
                if i < size <= LIMIT:
                    assert not verify_inclusion(LEAVES[i], i, size, proof, ROOTS[size]), (i, size)
            for bad in _mutations(proof):
                assert not verify_inclusion(LEAVES[i], i, n, bad, ROOTS[n]), (i, n, bad)


def test_every_consistency_proof_verifies_and_nothing_else_does() -> None:
    for n in range(0, LIMIT + 1):
        for m in range(0, n + 1):
            proof = TREE.consistency_proof(m, n)
            assert proof == consistency_proof(LEAVES, m, n)
            assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof), (m, n)
            if m == n:
                assert proof == []
                continue
            assert not verify_consistency(m, n, _flip(ROOTS[m]), ROOTS[n], proof)
            assert not verify_consistency(n, m, ROOTS[n], ROOTS[m], proof)
            if m == 0:
                # The empty tree is a prefix of every tree; only the shape is checked.
                assert not verify_consistency(0, n, ROOTS[0], ROOTS[n], [b"\x00" * 32])
                continue
            assert not verify_consistency(m, n, ROOTS[m], _flip(ROOTS[n]), proof)
            for bad in _mutations(proof):
                assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], bad), (m, n, bad)
            for first in {m - 1, m + 1} - {0, n}:
                assert not verify_consistency(first, n, ROOTS[m], ROOTS[n], proof), (first, n)
            if n + 1 <= LIMIT:
                assert not verify_consistency(m, n + 1, ROOTS[m], ROOTS[n + 1], proof)


def test_a_rewritten_history_is_inconsistent() -> None:
    """The attack the log exists to expose: one old leaf swapped, the tree extended."""
    forged = list(LEAVES)
    forged[3] = hashlib.sha256(b"a different bundle").digest()
    forged_tree = MerkleTree(forged)
    for m in range(4, 20):
        for n in range(m + 1, LIMIT + 1):
            proof = forged_tree.consistency_proof(m, n)
            assert not verify_consistency(m, n, ROOTS[m], forged_tree.root(n), proof)


def test_malformed_inputs_are_rejected_not_raised() -> None:
    proof = TREE.inclusion_proof(5, 8)
    assert not verify_inclusion(LEAVES[5], 5, 8, [*proof[:-1], proof[-1][:31]], ROOTS[8])
    assert not verify_inclusion(LEAVES[5], 5, 8, proof, ROOTS[8][:31])
    assert not verify_inclusion(LEAVES[5], 5, 0, proof, ROOTS[8])
    cproof = TREE.consistency_proof(6, 8)
    assert not verify_consistency(6, 8, ROOTS[6][:31], ROOTS[8], cproof)
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [])
    assert not verify_consistency(-1, 8, ROOTS[6], ROOTS[8], cproof)
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[5], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[4], [ROOTS[4]])


def test_generators_refuse_impossible_proofs() -> None:
    with pytest.raises(ValueError):
        TREE.inclusion_proof(8, 8)
    with pytest.raises(ValueError):
        TREE.inclusion_proof(0, LIMIT + 1)
    with pytest.raises(ValueError):
        TREE.consistency_proof(5, 3)
    with pytest.raises(ValueError):
        merkle.consistency_proof(LEAVES[:4], 1, 5)
    with pytest.raises(ValueError):
        TREE.root(LIMIT + 1)
