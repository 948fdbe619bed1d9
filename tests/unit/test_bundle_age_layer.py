"""The age wrapper: error mapping, armor refusal, and pyrage's stream traps."""

from __future__ import annotations

import io
import os

import pyrage
import pytest

from reprisal_report.bundle import age_layer
from reprisal_report.errors import (
    BundleError,
    BundleKeyInvalid,
    BundleMalformed,
    BundleNotForUs,
    BundleTampered,
    BundleTruncated,
)

IDENTITY = pyrage.x25519.Identity.generate()
SECRET = str(IDENTITY)
RECIPIENT = str(IDENTITY.to_public())


def seal(data: bytes, recipients: list[str] | None = None) -> bytes:
    out = io.BytesIO()
    age_layer.encrypt(io.BytesIO(data), out, recipients or [RECIPIENT])
    return out.getvalue()


def open_(data: bytes, identities: list[str] | None = None) -> bytes:
    out = io.BytesIO()
    age_layer.decrypt(io.BytesIO(data), out, identities or [SECRET])
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 300_000])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    assert sealed.startswith(age_layer.AGE_INTRO)
    assert open_(sealed) == data


def test_several_recipients_each_open_it() -> None:
    other = pyrage.x25519.Identity.generate()
    sealed = seal(b"hello", [RECIPIENT, str(other.to_public())])
    assert open_(sealed) == b"hello"
    assert open_(sealed, [str(other)]) == b"hello"


def test_wrong_identity_is_not_for_us() -> None:
    sealed = seal(b"hello")
    with pytest.raises(BundleNotForUs):
        open_(sealed, [str(pyrage.x25519.Identity.generate())])


def test_armor_is_refused() -> None:
    out = io.BytesIO()
    pyrage.encrypt_io(io.BytesIO(b"hello"), out, [IDENTITY.to_public()], armored=True)
    for armored in (out.getvalue(), b"\n  " + out.getvalue()):
        with pytest.raises(BundleMalformed, match="armored"):
            open_(armored)


@pytest.mark.parametrize(
    "data", [b"", b"age", b"not an age file at all", b"age-encryption.org/v2\n"]
)
def test_non_age_input_is_malformed(data: bytes) -> None:
    with pytest.raises(BundleMalformed):
        open_(data)


def test_truncation_is_reported_as_such() -> None:
    sealed = seal(os.urandom(200_000))
    # Cut at a chunk boundary: every chunk so far authenticates, the final one is missing.
    header_len = len(sealed) - (16 + 200_000 + 4 * 16)
    cut = header_len + 16 + 2 * (65536 + 16)
    with pytest.raises(BundleTruncated) as info:
        open_(sealed[:cut])
    assert info.value.hint


def test_flipped_payload_byte_is_tampering() -> None:
    sealed = bytearray(seal(os.urandom(1000)))
    sealed[-5] ^= 0x40
    with pytest.raises(BundleTampered):
        open_(bytes(sealed))


@pytest.mark.parametrize(
    "bad", ["", "age1notarecipient", "AGE-SECRET-KEY-1XYZ", "ssh-ed25519 AAAA"]
)
def test_bad_recipients_are_refused(bad: str) -> None:
    with pytest.raises(BundleKeyInvalid):
        seal(b"x", [bad])


def test_recipients_must_be_distinct_and_present() -> None:
    with pytest.raises(BundleKeyInvalid):
        seal(b"x", [RECIPIENT, RECIPIENT])
    with pytest.raises(BundleKeyInvalid):
        age_layer.encrypt(io.BytesIO(b"x"), io.BytesIO(), [])


def test_bad_identity_is_refused_without_echoing_it() -> None:
    almost = SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B")
    for bad in (almost, RECIPIENT, ""):
        with pytest.raises(BundleKeyInvalid) as info:
            open_(seal(b"x"), [bad])
        assert SECRET[16:] not in str(info.value)
        assert not bad or bad not in str(info.value)


class Boom(Exception):
    pass


class FailingWriter:
    """A writer whose every write fails (a full disk)."""

    def write(self, data: bytes) -> int:
        raise Boom("disk full")


@pytest.mark.parametrize("size", [0, 3, 1000, 70_000])
def test_writer_failure_is_never_swallowed(size: int) -> None:
    # pyrage 1.4 swallows a writer exception on its final flush; the wrapper must not.
    with pytest.raises(Boom):
        age_layer.encrypt(io.BytesIO(os.urandom(size)), FailingWriter(), [RECIPIENT])


def test_short_writes_are_failures() -> None:
    class Short:
        def write(self, data: bytes) -> int:
            return max(0, len(data) - 1)

    with pytest.raises(OSError, match="short write"):
        age_layer.encrypt(io.BytesIO(b"abc"), Short(), [RECIPIENT])


def test_reader_failure_comes_back_unchanged() -> None:
    class FailingReader(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: object) -> int:
            raise Boom("unreadable")

    with pytest.raises(Boom):
        age_layer.encrypt(FailingReader(), io.BytesIO(), [RECIPIENT])


def test_source_failure_while_decrypting_is_not_called_tampering() -> None:
    sealed = seal(os.urandom(100_000))

    class Flaky(io.BytesIO):
        reads = 0

        def read(self, size: int | None = -1) -> bytes:
            self.reads += 1
            if self.reads > 3:
                raise OSError("i/o error on the stick")
            return super().read(size)

    with pytest.raises(OSError, match="stick") as info:
        age_layer.decrypt(Flaky(sealed), io.BytesIO(), [SECRET])
    assert not isinstance(info.value, BundleError)


def test_plaintext_writer_errors_come_back_unchanged() -> None:
    sealed = seal(os.urandom(100_000))
    with pytest.raises(Boom):
        age_layer.decrypt(io.BytesIO(sealed), FailingWriter(), [SECRET])

    class Refuses:
        def write(self, data: bytes) -> int:
            raise BundleMalformed("bundle container does not start with the container magic")

    with pytest.raises(BundleMalformed, match="magic"):
        age_layer.decrypt(io.BytesIO(sealed), Refuses(), [SECRET])


def test_unknown_pyrage_errors_fail_closed() -> None:
    assert isinstance(age_layer._map_error(pyrage.DecryptError("new text")), BundleMalformed)
    assert isinstance(age_layer._map_error(OSError("new text")), BundleTampered)
