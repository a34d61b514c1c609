"""Alerts through a real local webhook and a real SMTP server (STARTTLS + AUTH)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest
from receivers import alerts_section, smtp_server, webhook
from vk_backup import FAKE_SECRET, make_config

from vaultkeeper.config import load_settings
from vaultkeeper.db import open_state_db
from vaultkeeper.services.alerts import Alert, Alerter, describe_url


def _alerter(tmp_path, section: str) -> Alerter:
    config = make_config(tmp_path, extra=section)
    settings = load_settings(config)
    return Alerter(settings, open_state_db(settings.state_dir), host="test-host")


def _password_file(tmp_path):
    path = tmp_path / "smtp.pass"
    path.write_text(FAKE_SECRET + "-smtp\n")
    path.chmod(0o600)
    return path


def test_webhook_and_email_arrive_once_then_recovered(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vaultkeeper")
    pw = _password_file(tmp_path)
    with webhook() as hook, smtp_server(tmp_path, user="vk", password=FAKE_SECRET + "-smtp") as box:
        alerter = _alerter(tmp_path, alerts_section(hook, box, password_file=pw))
        alert = Alert("partial", "backup:partial", "Backup run 7 was partial",
                      detail="offsite: unreachable", facts={"run": 7})
        assert alerter.notify(alert) == {"webhook": "sent", "email": "sent"}
        # The same open problem is not repeated within repeat_after.
        assert alerter.notify(alert) == {}
        assert alerter.resolve("backup:partial", "Backup run 8 reached every location") == {
            "webhook": "sent", "email": "sent"}
        # Resolved: a new occurrence alerts again.
        assert alerter.notify(alert) == {"webhook": "sent", "email": "sent"}
    assert hook.events() == ["partial", "recovered", "partial"]
    body = hook.posts[0]
    assert body["subject"] == "Backup run 7 was partial" and body["host"] == "test-host"
    assert body["facts"] == {"run": 7} and "offsite: unreachable" in body["text"]
    assert box.subjects() == ["[vaultkeeper] Backup run 7 was partial",
                              "[vaultkeeper] Backup run 8 reached every location",
                              "[vaultkeeper] Backup run 7 was partial"]
    assert box.messages[0]["X-Vaultkeeper-Event"] == "partial"
    # RFC 5322 headers a mail server expects: a parseable Date and a unique Message-ID.
    from email.utils import parsedate_to_datetime
    assert parsedate_to_datetime(box.messages[0]["Date"]) is not None
    ids = [m["Message-ID"] for m in box.messages]
    assert all(i and i.startswith("<") and i.endswith(">") for i in ids) and len(set(ids)) == 3
    assert box.tls_sessions == 3, "every message went through STARTTLS"
    assert box.logins == [("vk", FAKE_SECRET + "-smtp")] * 3
    # Secrets in no log line and not in the state database; the hook's path (its key) neither.
    assert FAKE_SECRET not in caplog.text and "T0KEN-IN-PATH" not in caplog.text
    dump = "\n".join(sqlite3.connect(tmp_path / ".vaultkeeper" / "state.db").iterdump())
    assert FAKE_SECRET not in dump and "T0KEN-IN-PATH" not in dump


def test_repeat_after_and_event_filter(tmp_path):
    with webhook() as hook:
        alerter = _alerter(tmp_path, alerts_section(
            hook, None, extra='events = ["job_failed", "partial"]\nrepeat_after = "30m"\n'))
        assert alerter.config.repeat_after == timedelta(minutes=30)
        alert = Alert("job_failed", "job:backup", "The backup job failed")
        assert alerter.notify(alert)["webhook"] == "sent"
        assert alerter.notify(alert) == {}
        # Pretend the last one went out 31 minutes ago: it is repeated, counted.
        alerter.db.execute("update alerts set last_sent_at = datetime(last_sent_at, "
                           "'-31 minutes') || '+00:00'")
        alerter.db.conn.commit()
        assert alerter.notify(alert)["webhook"] == "sent"
        assert next(alerter.db.query("select count from alerts"))["count"] == 2
        # Not in `events`: not sent.
        assert alerter.notify(Alert("backup_stale", "stale:nas", "stale")) == {}
        # `recovered` is not listed either: resolving sends nothing but closes the problem.
        assert alerter.resolve("job:backup", "ok again") == {}
    assert hook.events() == ["job_failed", "job_failed"]


def test_broken_channels_never_raise_and_are_retried_soon(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vaultkeeper")
    with webhook() as hook:
        hook.status = 500
        alerter = _alerter(tmp_path, alerts_section(hook, None) + (
            'email_to = ["it@example.org"]\nemail_from = "vk@example.org"\n'
            'smtp_host = "127.0.0.1"\n') + f"smtp_port = {_closed_port()}\n")
        result = alerter.notify(Alert("job_failed", "job:backup", "The backup job failed"))
    assert result["webhook"] == "failed: the webhook answered HTTP 500"
    assert result["email"].startswith("failed: cannot connect")
    assert "alert job:backup (job_failed) via webhook: failed" in caplog.text
    # A delivery that failed everywhere is retried after 5 minutes, not after repeat_after.
    alerter.db.execute("update alerts set last_sent_at = datetime(last_sent_at, '-6 minutes')"
                       " || '+00:00'")
    alerter.db.conn.commit()
    with webhook(path="/other") as other:
        assert "webhook" in alerter.notify(Alert("job_failed", "job:backup", "again"))
        assert other.posts == []   # the configured URL is still the dead one


def test_email_refuses_cleartext_when_starttls_missing(tmp_path):
    pw = _password_file(tmp_path)
    with smtp_server(tmp_path, user="vk", password="x", starttls=False) as box:
        alerter = _alerter(tmp_path, alerts_section(None, box, password_file=pw))
        result = alerter.deliver(Alert("job_failed", "k", "subject"))
    assert result == {"email": "failed: 127.0.0.1 does not offer STARTTLS; the alert was not "
                               "sent in clear text"}
    assert box.messages == [] and box.logins == []


def test_wrong_smtp_password_is_named_without_the_password(tmp_path):
    pw = _password_file(tmp_path)
    with smtp_server(tmp_path, user="vk", password="something-else") as box:
        alerter = _alerter(tmp_path, alerts_section(None, box, password_file=pw))
        result = alerter.deliver(Alert("job_failed", "k", "subject"))
    assert result["email"].startswith("failed: the mail server refused the login (SMTP 535)")
    assert FAKE_SECRET not in result["email"]


def test_webhook_secret_reference_and_bearer_token(tmp_path, monkeypatch):
    with webhook() as hook:
        monkeypatch.setenv("VK_TEST_HOOK", hook.url)
        monkeypatch.setenv("VK_TEST_HOOK_TOKEN", FAKE_SECRET)
        alerter = _alerter(tmp_path, '[alerts]\nwebhook_url = { env = "VK_TEST_HOOK" }\n'
                                     'webhook_token = { env = "VK_TEST_HOOK_TOKEN" }\n')
        assert alerter.deliver(Alert("partial", "k", "s")) == {"webhook": "sent"}
    assert hook.headers[0]["Authorization"] == f"Bearer {FAKE_SECRET}"


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/…"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("https://example.org/hook?key=abc", "https://example.org/…"),
])
def test_webhook_urls_are_shown_without_their_key(url, shown):
    assert describe_url(url) == shown


def _closed_port() -> int:
    from servers import free_port

    return free_port()
