"""The whole exception tree; each class carries its exit code and, where known, the fix."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; docs/exit-codes.md is generated from EXIT_CODE_MEANINGS."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    VERIFICATION = 4
    CONFIG = 5
    CONNECTOR = 6
    STORAGE = 7
    INTERRUPTED = 130


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "Success.",
    ExitCode.ERROR: "Could not run: an unexpected error (the message says what; --debug shows "
                    "the traceback).",
    ExitCode.USAGE: "Usage error: unknown command or option, bad option value, unusable --out.",
    ExitCode.PARTIAL: "Partial: the run finished but something is incomplete (quarantined or "
                      "missing records, a failed location); the rest succeeded.",
    ExitCode.VERIFICATION: "Verification failed: data missing, changed or corrupt.",
    ExitCode.CONFIG: "Configuration or secret problem; the message names the file, the key and "
                     "the fix.",
    ExitCode.CONNECTOR: "The CRM source failed: unreachable, credentials refused, rate limit "
                        "exhausted after retries, or data that cannot be paged.",
    ExitCode.STORAGE: "A backup location or the local disk failed.",
    ExitCode.INTERRUPTED: "Interrupted (Ctrl-C / SIGINT); nothing was marked complete.",
}


class VaultkeeperError(Exception):
    """An expected failure: one line for the user plus how to fix it, and an exit code."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        """The message and the fix on one line, as printed after ``Error:``."""
        text = self.message.rstrip(".")
        return f"{text}. Fix: {self.fix}" if self.fix else f"{text}."


class UsageError(VaultkeeperError):
    """A command-line option that cannot be honoured."""

    exit_code = ExitCode.USAGE


class ConfigError(VaultkeeperError):
    """Bad configuration: names the file and the key."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, fix: str | None = None, *, file: str | None = None,
                 key: str | None = None) -> None:
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {message}" if where else message, fix)
        self.file = file
        self.key = key


class SecretError(ConfigError):
    """A secret reference that cannot be resolved, or an inline secret."""


class ConnectorError(VaultkeeperError):
    """The CRM source failed in a way retrying will not fix."""

    exit_code = ExitCode.CONNECTOR


class RetryableError(ConnectorError):
    """A transient source failure (429, 5xx, dropped connection); the HTTP layer retries it."""

    def __init__(self, message: str, fix: str | None = None, *,
                 retry_after: float | None = None) -> None:
        super().__init__(message, fix)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """The source refused our credentials."""


class ScopeError(AuthError):
    """The credentials are valid but may not read this object (HTTP 403, missing scope)."""


class PaginationError(ConnectorError):
    """A paginator saw a repeated cursor, or was told there is more with no way to get it."""


class QuotaError(ConnectorError):
    """The vendor's daily API quota, less the reserve, cannot serve the run (nothing was read:
    exit 6 like the vendor's own quota refusals, 403 REQUEST_LIMIT_EXCEEDED or 429)."""


class ExportError(VaultkeeperError):
    """The export could not be completed; no manifest was written."""


class IncompleteExport(VaultkeeperError):
    """The export finished but is not complete (quarantined records, missing records)."""

    exit_code = ExitCode.PARTIAL


class StorageError(VaultkeeperError):
    """A location or the local disk failed."""

    exit_code = ExitCode.STORAGE


class VerificationError(VaultkeeperError):
    """Data is missing, changed or corrupt."""

    exit_code = ExitCode.VERIFICATION


class AlreadyRunning(VaultkeeperError):
    """Another backup (drill, diff…) holds the run lock of this state directory."""


class DaemonRunning(VaultkeeperError):
    """Another ``vaultkeeper run`` holds the scheduler lock of this state directory."""
