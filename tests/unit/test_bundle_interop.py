"""A coordinator can open a bundle with the stock ``age`` tool in an emergency."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import nacl.signing
import pyrage
import pytest

from reprisal_report.bundle.container import AttachmentSource, ContainerParser
from reprisal_report.bundle.manifest import parse_manifest
from reprisal_report.bundle.seal import seal_to
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.model.case import parse_case_bytes

EXAMPLE_CASE = Path(__file__).resolve().parents[1] / "data" / "case-example.yaml"

pytestmark = pytest.mark.interop


def age_binary() -> str:
    found = shutil.which("age")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the stock age binary is required in CI")
        pytest.skip("the stock age binary is not installed")
    return found


def test_stock_age_decrypts_a_bundle_to_a_valid_container(tmp_path: Path) -> None:
    age = age_binary()
    identity = pyrage.x25519.Identity.generate()
    author = nacl.signing.SigningKey.generate()
    data = os.urandom(100_000)
    out = io.BytesIO()
    info = seal_to(
        out,
        record=parse_case_bytes(EXAMPLE_CASE.read_bytes(), source_name="case"),
        attachments=[
            AttachmentSource(
                "a.bin", len(data), hashlib.sha256(data).hexdigest(), lambda: io.BytesIO(data)
            )
        ],
        signing_key=author,
        author_key_id=key_id(bytes(author.verify_key)),
        recipients=[("c" * 16, str(identity.to_public()))],
        org_id="example-org",
        case_id="a" * 16,
    )
    bundle = tmp_path / info.file_name
    bundle.write_bytes(out.getvalue())
    key_file = tmp_path / "identity.txt"
    key_file.write_text(str(identity) + "\n")
    key_file.chmod(0o600)
    result = subprocess.run(
        [age, "--decrypt", "--identity", str(key_file), str(bundle)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    parser = ContainerParser()
    parser.write(result.stdout)
    parsed = parser.finish()
    assert parse_manifest(parsed.manifest) == info.manifest
    assert parsed.attachments[0].sha256 == hashlib.sha256(data).hexdigest()
