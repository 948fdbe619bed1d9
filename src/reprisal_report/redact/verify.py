"""An auditor's check of an export, with public keys only (``audit verify-export``):

1. ``FILE.minisig`` verifies with a coordinator key of the org card, and its trusted
   comment names this file's SHA-256;
2. for exports that carry them (``un-confidential``), each case's manifest is signed by
   a reporter key of the card, each disclosed field matches its salted commitment, and
   the value shown in the case is the disclosed one. Fields not disclosed are reported
   as withheld, not as failures: that is what redaction is.

Nothing here needs the vault or any secret.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from reprisal_report.bundle.manifest import parse_manifest, verify_disclosed, verify_manifest
from reprisal_report.errors import BundleError, InvalidInput
from reprisal_report.identity.keys import minisign_key_id
from reprisal_report.identity.orgcard import OrgCard
from reprisal_report.model import canonical
from reprisal_report.model.states import Role
from reprisal_report.redact import minisign
from reprisal_report.redact.records import path_steps


@dataclass
class CaseCheck:
    case_id: str
    result: str  # "verified", "withheld N fields", or the failure
    ok: bool
    disclosed: int = 0
    withheld: int = 0


@dataclass
class ExportCheck:
    signature_ok: bool
    signer: str | None
    signature_problem: str | None
    trusted_comment: str | None
    profile: str | None
    cases: list[CaseCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_ok and all(c.ok for c in self.cases)


def _keys(card: OrgCard, role: str) -> dict[str, bytes]:
    """key id -> public key of every member of ``role``, active or revoked (a revoked
    key's past signatures are reported with the key named; the card says when)."""
    out = {m.key_id: m.signing_key for m in card.members if m.role == role}
    out.update({r.key_id: r.signing_key for r in card.revoked if r.role == role})
    return out


def _signature(
    data: bytes, sig: bytes, card: OrgCard
) -> tuple[bool, str | None, str | None, str | None]:
    sha = hashlib.sha256(data).hexdigest()
    lines = sig.decode("utf-8", errors="replace").split("\n")
    try:
        blob = canonical.b64decode(lines[1]) if len(lines) > 1 else b""
    except canonical.CanonicalError:
        blob = b""
    if len(blob) != 74:
        return False, None, "the .minisig file is not a minisign signature", None
    coordinators = _keys(card, Role.COORDINATOR)
    signer = next(
        (kid for kid, pk in coordinators.items() if minisign_key_id(pk) == blob[2:10]), None
    )
    if signer is None:
        return False, None, "signed by a key that is no coordinator of this org card", None
    try:
        trusted = minisign.verify(coordinators[signer], data, sig)
    except minisign.BadSignature as exc:
        return False, signer, f"the signature does not verify ({exc})", None
    if f"sha256={sha}" not in trusted.split():
        return False, signer, "the signed comment names another file's SHA-256", trusted
    revoked = card.revocation(signer)
    if revoked is not None:
        # A revoked coordinator's signature counts only for an export it signed before
        # the revocation, by the time in its own signed comment.
        found = re.search(r"\btime=(\S+)", trusted)
        if found is None or found.group(1) >= revoked.revoked_at:
            return False, signer, f"signed by coordinator {signer} after its revocation", trusted
    return True, signer, None, trusted


def _shown(case: dict[str, object], path: str) -> object:
    node: object = case
    for step in path_steps(path):
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
    return node


_MISSING = object()


def _check_case(case: object, authors: dict[str, bytes]) -> CaseCheck:
    if not isinstance(case, dict):
        return CaseCheck("?", "not a case object", False)
    case_id = str(case.get("id", "?"))
    try:
        manifest_bytes = canonical.b64decode(case.get("manifest"))
        signature = canonical.b64decode(case.get("signature"), 64)
    except canonical.CanonicalError:
        return CaseCheck(case_id, "manifest or signature is not base64", False)
    try:
        manifest = parse_manifest(manifest_bytes)
    except BundleError:
        return CaseCheck(case_id, "the manifest is malformed", False)
    if manifest.case_id != case_id:
        return CaseCheck(case_id, f"the manifest is of case {manifest.case_id}", False)
    key = authors.get(manifest.author)
    if key is None:
        return CaseCheck(
            case_id, f"author {manifest.author} is no reporter of this org card", False
        )
    try:
        verify_manifest(key, manifest_bytes, signature)
    except BundleError:
        return CaseCheck(case_id, "the author's signature over the manifest does not verify", False)
    disclosed = case.get("disclosed")
    if not isinstance(disclosed, dict):
        return CaseCheck(case_id, "no disclosed fields object", False)
    for path, item in sorted(disclosed.items()):
        if not isinstance(item, dict):
            return CaseCheck(case_id, f"field {path}: not a value and salt", False)
        try:
            salt = bytes.fromhex(str(item.get("salt")))
        except ValueError:
            return CaseCheck(case_id, f"field {path}: the salt is not hex", False)
        value = item.get("value")
        if not verify_disclosed(manifest, path, value, salt):
            return CaseCheck(case_id, f"field {path} does not match the author's commitment", False)
        shown = _shown(case, path)
        if shown is not _MISSING and shown != value:
            return CaseCheck(case_id, f"field {path} shown differs from the disclosed value", False)
    withheld = len(manifest.commitments) - len(disclosed)
    result = "verified" if withheld == 0 else f"withheld {withheld} fields"
    return CaseCheck(case_id, result, True, len(disclosed), withheld)


def verify_export(data: bytes, signature: bytes, card: OrgCard) -> ExportCheck:
    ok, signer, problem, trusted = _signature(data, signature, card)
    profile = None
    if trusted is not None:
        found = re.search(r"\bprofile=(\S+)", trusted)
        profile = found.group(1) if found else None
    check = ExportCheck(ok, signer, problem, trusted, profile)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return check  # CSV or Markdown: the signature is all there is to check
    if not isinstance(doc, dict):
        raise InvalidInput("the export is JSON but not an export document")
    cases = doc.get("cases")
    if not isinstance(cases, list):
        return check
    authors = _keys(card, Role.REPORTER)
    for case in cases:
        if isinstance(case, dict) and "manifest" in case:
            check.cases.append(_check_case(case, authors))
        else:
            case_id = str(case.get("id", "?")) if isinstance(case, dict) else "?"
            check.cases.append(
                CaseCheck(case_id, "no signed original carried (redacted export)", True)
            )
    return check
