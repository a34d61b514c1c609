"""Alerts: a JSON POST to a webhook and/or an e-mail (SMTP with STARTTLS) when something fails.

Each alert has a *key* naming the problem (``backup:partial``, ``stale:office-nas``). An open
problem is sent once and then at most every ``repeat_after``; when it clears, one ``recovered``
alert closes it. Deliveries never raise: a broken mail server must not stop the backups, so the
outcome is logged and kept in the state database. Nothing secret is ever put in an alert, a log
line or a delivery error (URLs are shown by host only, passwords never).
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from vaultkeeper import __version__
from vaultkeeper.config import AlertSettings, Secret, Settings
from vaultkeeper.db import jobs as jobdb
from vaultkeeper.errors import VaultkeeperError

log = logging.getLogger("vaultkeeper.alerts")
RETRY_FAILED_DELIVERY = timedelta(minutes=5)
"""An alert no channel accepted is tried again this soon (not after ``repeat_after``)."""


@dataclass(frozen=True)
class Alert:
    """One thing someone should hear about."""

    event: str          # one of config.ALERT_EVENTS
    key: str            # the problem's identity, for de-duplication and recovery
    subject: str        # one line
    detail: str = ""    # what happened and what to do
    severity: str = "critical"    # critical | warning | info
    facts: dict[str, Any] = field(default_factory=dict)

    def payload(self, host: str) -> dict[str, Any]:
        """The webhook's JSON body (``text`` makes Slack/Mattermost-style hooks show it)."""
        return {"source": "vaultkeeper", "version": __version__, "host": host,
                "event": self.event, "severity": self.severity, "key": self.key,
                "subject": self.subject, "detail": self.detail, "facts": self.facts,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "text": f"[vaultkeeper {self.severity}] {self.subject}"
                        + (f"\n{self.detail}" if self.detail else "")}


def describe_url(url: str) -> str:
    """A webhook URL shown without path or query (they often hold the hook's key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "") \
        + ("/…" if parts.path not in ("", "/") or parts.query else "")


class Alerter:
    """Sends alerts through the configured channels, with de-duplication in the state DB."""

    def __init__(self, settings: Settings, db: Any, *, host: str | None = None) -> None:
        self.config: AlertSettings = settings.alerts
        self.db = db
        self.host = host or socket.gethostname()
        self.organisation = settings.config_file.parent.name if settings.config_file else ""

    @property
    def enabled(self) -> bool:
        """At least one channel is configured."""
        return bool(self.config.channels)

    def notify(self, alert: Alert, *, force: bool = False) -> dict[str, str]:
        """Send ``alert`` unless it is switched off or was sent recently; returns per-channel
        delivery results (empty when nothing was sent)."""
        if alert.event not in self.config.events and not force:
            return {}
        previous = jobdb.alert_state(self.db, alert.key)
        if previous and previous["resolved_at"] is None and not force:
            last = datetime.fromisoformat(previous["last_sent_at"])
            failed_before = '"sent"' not in (previous["delivery"] or "")
            wait = min(RETRY_FAILED_DELIVERY, self.config.repeat_after) if failed_before \
                else self.config.repeat_after
            if datetime.now(UTC) - last < wait:
                log.info("alert %s still open, not repeated before %s", alert.key,
                         (last + wait).isoformat(timespec="minutes"))
                return {}
        delivery = self.deliver(alert)
        jobdb.record_alert(self.db, alert.key, alert.event, alert.subject, delivery)
        return delivery

    def resolve(self, key: str, subject: str) -> dict[str, str]:
        """The problem ``key`` cleared: close it and send one ``recovered`` alert."""
        if not jobdb.resolve_alert(self.db, key):
            return {}
        if "recovered" not in self.config.events:
            return {}
        return self.deliver(Alert("recovered", key, subject, severity="info"))

    def deliver(self, alert: Alert) -> dict[str, str]:
        """Send through every channel now; never raises."""
        results: dict[str, str] = {}
        if self.config.webhook_url:
            results["webhook"] = self._guarded(self._webhook, alert)
        if self.config.email_to:
            results["email"] = self._guarded(self._email, alert)
        for channel, result in results.items():
            level = logging.INFO if result == "sent" else logging.WARNING
            log.log(level, "alert %s (%s) via %s: %s", alert.key, alert.event, channel, result)
        if not results:
            log.warning("alert %s: %s (no [alerts] channel configured)", alert.key, alert.subject)
        return results

    def _guarded(self, send: Any, alert: Alert) -> str:
        try:
            send(alert)
            return "sent"
        except VaultkeeperError as exc:
            return f"failed: {exc.one_line()}"
        except (OSError, httpx.HTTPError, smtplib.SMTPException, ssl.SSLError) as exc:
            # Our own words only: exception texts can echo URLs (hook keys) or server replies.
            return f"failed: {_describe_error(exc)}"

    # ------------------------------------------------------------------------------ channels
    def _webhook(self, alert: Alert) -> None:
        hook = self.config.webhook_url
        url = hook.reveal() if isinstance(hook, Secret) else str(hook)
        headers = {"User-Agent": f"vaultkeeper/{__version__}"}
        if self.config.webhook_token:
            headers["Authorization"] = f"Bearer {self.config.webhook_token.reveal()}"
        response = httpx.post(url, json=alert.payload(self.host), headers=headers,
                              timeout=self.config.timeout, follow_redirects=False)
        if response.status_code >= 300:
            raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request,
                                        response=response)

    def _email(self, alert: Alert) -> None:
        cfg = self.config
        assert cfg.smtp_host and cfg.email_from
        message = EmailMessage()
        message["Subject"] = f"[vaultkeeper] {alert.subject}"
        message["From"] = cfg.email_from
        message["To"] = ", ".join(cfg.email_to)
        # Date and Message-ID: mail servers and spam filters score messages without them down.
        message["Date"] = email.utils.formatdate(localtime=True)
        message["Message-ID"] = email.utils.make_msgid(domain=_mail_domain(cfg.email_from))
        message["X-Vaultkeeper-Event"] = alert.event
        message["X-Vaultkeeper-Key"] = alert.key
        lines = [alert.subject, "", alert.detail, "",
                 *(f"{k}: {v}" for k, v in sorted(alert.facts.items())), "",
                 f"-- vaultkeeper {__version__} on {self.host}"]
        message.set_content("\n".join(lines))
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout) as smtp:
            smtp.ehlo()
            if cfg.smtp_starttls:
                if not smtp.has_extn("starttls"):
                    raise _SmtpPolicy(f"{cfg.smtp_host} does not offer STARTTLS; the alert was "
                                      "not sent in clear text")
                context = ssl.create_default_context(
                    cafile=str(cfg.smtp_ca_file) if cfg.smtp_ca_file else None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.smtp_user:
                password = cfg.smtp_password.reveal() if cfg.smtp_password else ""
                smtp.login(cfg.smtp_user, password)
            smtp.send_message(message)


class _SmtpPolicy(smtplib.SMTPException):
    """We refuse to send (no STARTTLS offered)."""


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, _SmtpPolicy):
        return str(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return f"the webhook answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "the webhook did not answer in time"
    if isinstance(exc, httpx.HTTPError):
        return f"the webhook is unreachable ({type(exc).__name__})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the mail server refused the login (SMTP {exc.smtp_code}); check smtp_user " \
               "and smtp_password"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server answered SMTP {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the mail server closed the connection"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused every recipient; check email_to"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the mail server failed ({exc.reason or type(exc).__name__}); " \
               "set smtp_ca_file for a private CA"
    if isinstance(exc, OSError):
        return f"cannot connect ({exc.strerror or type(exc).__name__})"
    return type(exc).__name__


def _mail_domain(address: str) -> str:
    """The domain of the sender address (Message-IDs are made under it), else ``localhost``."""
    _, addr = email.utils.parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"
