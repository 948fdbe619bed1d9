"""One error root and one exit-code enum for the whole tool.

The core raises subclasses of ``ReportError``; only ``cli/`` turns them into a
terminal line and an exit status. Messages are lower-case, have no final period,
and never contain a secret or case content.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit statuses (the table in docs/cli.md)."""

    OK = 0
    OPERATIONAL = 1
    INVALID_INPUT = 2
    VERIFICATION = 3
    REFUSED = 4


class ReportError(Exception):
    """Root of every error the tool reports to its user."""

    exit_code: ExitCode = ExitCode.OPERATIONAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# --- exit 1: operational -------------------------------------------------------


class OperationalError(ReportError):
    exit_code = ExitCode.OPERATIONAL


class ProfileMissing(OperationalError):
    """No profile exists where one was expected."""


class ProfileExists(OperationalError):
    """``init`` would overwrite an existing profile."""


class NotFound(OperationalError):
    """A case, attachment or file named by the user does not exist."""


class Aborted(OperationalError):
    """The user declined a confirmation."""


# --- exit 2: invalid usage or input ------------------------------------------------


class InvalidInput(ReportError):
    exit_code = ExitCode.INVALID_INPUT


class InvalidCase(InvalidInput):
    """A case record breaks the schema; the message names the field."""

    def __init__(self, field: str, problem: str, hint: str | None = None) -> None:
        super().__init__(f"{field}: {problem}", hint)
        self.field = field


class WrongRole(InvalidInput):
    """The command is not available to this profile's role."""


class OrgNotChosen(InvalidInput):
    """The profile joined several orgs and the command was not told which one."""


class PlainHttpRefused(InvalidInput):
    """Plain http to a remote relay would show this device's key id to the network."""


# --- exit 3: verification failure ---------------------------------------------------


class VerificationError(ReportError):
    exit_code = ExitCode.VERIFICATION


class WrongPassphrase(VerificationError):
    """The passphrase does not unwrap the vault key."""


class CorruptVault(VerificationError):
    """The keyfile or database failed an integrity check."""


class SessionInvalid(VerificationError):
    """``REPRISAL_REPORT_SESSION`` is set but opens nothing: malformed, wrong, ended
    (locked, replaced, passphrase changed), expired, tampered or another profile's."""


# --- exit 4: refused by do-no-harm policy ----------------------------------------------


class PolicyRefusal(ReportError):
    exit_code = ExitCode.REFUSED


class LeakBlocked(PolicyRefusal):
    """The export's bytes hold a sensitive value the profile forbids (the leak gate).
    Messages name the case and field, never the value."""


class GateFailed(PolicyRefusal):
    """The leak gate could not finish its check (a worker process died, or its view of
    the redaction differed from the redaction's): the export is refused as a leak
    would be, with nothing written."""


class ProtectionLowered(PolicyRefusal):
    """A reassessment that protects people less (wider consent, lower risk) without a
    reason."""


class DisclosureRisk(PolicyRefusal):
    """A statistics table would show a small count or let a suppressed one be worked out
    (the audit failed, or tables of one counting unit disagree). Messages name the
    table and the cell's dimensions, never a count."""


# --- trust: identity and org cards ------------------------------------------------------


class CardInvalid(VerificationError):
    """An identity or org card is malformed, non-canonical or badly signed."""


class FingerprintMismatch(VerificationError):
    """``org join`` was given a fingerprint that is not the card's root key."""


class RollbackRejected(VerificationError):
    """An org card is not newer than the one already pinned."""


class CardExpired(VerificationError):
    """An org card is past its expiry (a freeze attack, or a coordinator who forgot)."""


class UnknownOrg(OperationalError):
    """The profile has not joined or created the org named."""


# --- bundles --------------------------------------------------------------------------
# Raised by ``bundle/``. Whoever opens a bundle must discard everything it produced
# (record, attachments, staging rows) when any of these is raised: nothing from a
# bundle is stored unless the whole of it verified.


class BundleError(VerificationError):
    """A sealed bundle could not be opened, parsed or verified."""


class BundleMalformed(BundleError):
    """Not a well-formed bundle: age header, container grammar, manifest or record."""


class BundleTampered(BundleError):
    """An authenticity check failed: age MAC or STREAM tag, signature, commitment, hash."""


class BundleTruncated(BundleTampered):
    """The age payload ended early: an interrupted copy, or a deliberate cut."""


class BundleNotForUs(BundleError):
    """No identity of ours opens it, or its signed manifest names another org or keys."""


class BundleKeyInvalid(BundleError):
    """An age recipient or identity handed to the bundle layer does not parse."""


class AttachmentChanged(BundleError):
    """While sealing, an attachment's bytes differed from its recorded size or hash."""


class SealInputInvalid(InvalidInput):
    """The parts handed to ``seal_to`` cannot go into a bundle (for example a bad name)."""


# --- attachments ------------------------------------------------------------------------
# Raised by ``sanitize/`` on ``case attach``. Messages name the file and the detected
# kind only: never a byte of its content or of its metadata.


class AttachmentRefused(PolicyRefusal):
    """A file whose metadata this tool cannot strip, given without ``--keep-metadata``."""


class AttachmentTooLarge(AttachmentRefused):
    """A strippable file above the in-memory size cap, given without ``--keep-metadata``."""


class AttachmentMalformed(InvalidInput):
    """A file that claims a media type by its magic bytes but is broken or truncated."""


class AttachmentDecodesTooLarge(InvalidInput):
    """An image whose declared pixels would take more memory to clean than the tool
    allows (a decompression bomb, or a scan too large to clean in memory)."""


class UnsafeAttachmentName(InvalidInput):
    """An attachment name that could hide, disguise or misplace the file (a leading dot,
    a bidi override, a control character, a path separator)."""


class ProfileBusy(OperationalError):
    """Another ``reprisal-report`` process holds this profile's write lock."""


# --- relay ----------------------------------------------------------------------------
# Raised by ``relay/`` (the server) and ``transport/relay_client.py`` (its client).


class RelayUnreachable(OperationalError):
    """No answer from the relay: network, DNS, proxy, TLS or timeout."""


class RelayFailed(OperationalError):
    """The relay answered, but not with success: busy, too large, over quota, not found."""


class RelayRefused(VerificationError):
    """The relay refused the request's credentials (401/403); the message is the relay's."""


class RelayAnswerInvalid(VerificationError):
    """A relay answer does not verify: receipt signature, inclusion proof, bundle hash."""


class LogInconsistent(VerificationError):
    """The relay's Merkle log is not an append-only extension of a tree head seen before."""


class RelaySetupError(OperationalError):
    """The relay's data directory, key or org card cannot be created or used."""


class RelayRequestRejected(ReportError):
    """Inside the relay server: becomes an HTTP error response, never a terminal line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- inbox: who sent a bundle ---------------------------------------------------------------


class UnknownDevice(BundleError):
    """The bundle's author key is not in the org card."""


class RevokedDevice(BundleError):
    """The bundle's author key was revoked before the bundle claims to be sealed."""


class ReplayedBundle(BundleError):
    """A bundle id already imported arrives with other content, or a case changes hands."""
