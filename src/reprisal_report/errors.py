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


# --- exit 3: verification failure ---------------------------------------------------


class VerificationError(ReportError):
    exit_code = ExitCode.VERIFICATION


class WrongPassphrase(VerificationError):
    """The passphrase does not unwrap the vault key."""


class CorruptVault(VerificationError):
    """The keyfile or database failed an integrity check."""


# --- exit 4: refused by do-no-harm policy ----------------------------------------------


class PolicyRefusal(ReportError):
    exit_code = ExitCode.REFUSED
