"""The notifier delivers to a webhook and by SMTP on 127.0.0.1, never exposes its secrets, and
reports a failed channel without stopping the other."""

from __future__ import annotations

import pytest

from pipeline.lib.alerts.notifier import Alert, Notifier, deliver

ALERT = Alert("run 1234 of job daily_refresh failed", ["failed steps: klaviyo_sync"])


def test_an_alert_reaches_the_webhook_and_every_recipient(alert_inbox):
    deliveries = deliver(ALERT)
    assert [(d.channel, d.delivered) for d in deliveries] == [("webhook", True), ("email", True)]
    assert alert_inbox.webhook[0]["text"] == ALERT.text()
    assert alert_inbox.webhook[0]["path"] == "/services/T000/B000/secret-token"
    (email,) = alert_inbox.emails
    assert email["to"] == ["analyst@shop.test", "marketer@shop.test"]
    assert email["subject"] == "[Foresight] run 1234 of job daily_refresh failed"
    assert "failed steps: klaviyo_sync" in email["content"]


def test_nothing_configured_sends_nothing(monkeypatch):
    for name in ("WEBHOOK_URL", "SMTP_HOST"):
        monkeypatch.delenv(f"FORESIGHT_ALERT_{name}", raising=False)
    assert deliver(ALERT) == []


def test_a_failed_channel_names_no_secret_and_the_other_still_delivers(alert_inbox, monkeypatch):
    monkeypatch.setenv("FORESIGHT_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hooks/very-secret")
    monkeypatch.setenv("FORESIGHT_ALERT_SMTP_PASSWORD", "smtp-secret")
    notifier = Notifier.from_env()
    deliveries = notifier.send(ALERT)
    assert deliveries[0].channel == "webhook" and not deliveries[0].delivered
    assert deliveries[1].delivered and len(alert_inbox.emails) == 1
    shown = repr(notifier) + repr(deliveries)
    assert "very-secret" not in shown and "smtp-secret" not in shown
    assert "analyst@shop.test" not in shown


def test_a_webhook_refusal_is_reported_with_its_status(alert_inbox):
    alert_inbox.webhook_status = 403
    assert deliver(ALERT)[0].detail == "HTTP 403"


def test_half_configured_email_is_a_clear_error():
    with pytest.raises(ValueError, match="EMAIL_FROM"):
        Notifier.from_env({"FORESIGHT_ALERT_SMTP_HOST": "127.0.0.1"})
    with pytest.raises(ValueError, match="SMTP_SECURITY"):
        Notifier.from_env(
            {
                "FORESIGHT_ALERT_SMTP_HOST": "h",
                "FORESIGHT_ALERT_EMAIL_FROM": "a@b",
                "FORESIGHT_ALERT_EMAIL_TO": "c@d",
                "FORESIGHT_ALERT_SMTP_SECURITY": "x",
            }
        )
