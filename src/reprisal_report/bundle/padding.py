"""PADMÉ padding: hide a bundle's exact size behind a small set of buckets.

PADMÉ is from K. Nikitin, L. Barman, W. Lueks, M. Underwood, J.-P. Hubaux and B. Ford,
"Reducing Metadata Leakage from Encrypted Files and Communication with PURBs",
PoPETs 2019(4), pp. 6-33, doi:10.2478/popets-2019-0056 (section 4).

A length ``L`` whose highest set bit is bit ``E`` (``E = floor(log2 L)``) is rounded
up so that only its top ``S = floor(log2 E) + 1`` bits may be non-zero: the low
``E - S`` bits are cleared. Consequences, as shown in the paper:

- **leakage**: up to a maximum length ``M`` there are O((log M)^2) buckets, so the
  padded length reveals at most O(log log M) bits about the true length (the same
  order as padding to a power of two, at a fraction of the cost);
- **overhead**: below ``2**-S`` of the length, so at most 12 % (the worst case,
  11.6 %, is at 129 bytes); at most 6.25 % from 256 bytes, 3.13 % from 64 KiB
  and 1.57 % from 4 GiB: the larger the bundle, the cheaper its disguise.

Below 2**20 bytes there are only 301 buckets; the observer learns which one, and
nothing about where in it the true length lies.

Nothing is hidden below 8 bytes (those lengths are their own buckets); a bundle's
container is always far larger than that.
"""

from __future__ import annotations


def padme(length: int) -> int:
    """The PADMÉ bucket for ``length``: the smallest allowed size that is ``>= length``."""
    if length < 0:
        raise ValueError("padme: length must not be negative")
    if length < 2:
        return length
    exponent = length.bit_length() - 1  # E = floor(log2 L)
    size_bits = exponent.bit_length()  # S = floor(log2 E) + 1
    low_bits = exponent - size_bits  # bits forced to zero
    mask = (1 << low_bits) - 1
    return (length + mask) & ~mask
