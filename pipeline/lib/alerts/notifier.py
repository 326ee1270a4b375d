"""Delivery of alerts to people: a Slack-compatible incoming webhook and/or SMTP email.

Configured by environment variables, read when an alert is sent (never at import):

- `FORESIGHT_ALERT_WEBHOOK_URL`: POSTs `{"text": ...}` (Slack, Mattermost, Teams workflows,
  Google Chat and most chat tools accept it).
- `FORESIGHT_ALERT_SMTP_HOST` (+ `_PORT`, default 587), `FORESIGHT_ALERT_EMAIL_FROM`,
  `FORESIGHT_ALERT_EMAIL_TO` (comma-separated), optional `FORESIGHT_ALERT_SMTP_USER` /
  `FORESIGHT_ALERT_SMTP_PASSWORD`, and `FORESIGHT_ALERT_SMTP_SECURITY` = `starttls` (default),
  `ssl` or `none`.

Neither configured: nothing is sent and the caller only logs. The webhook URL (it carries the
token), the SMTP password and the recipients' addresses are never logged or returned: a failed
delivery is reported by channel and error type only.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests

ENV_PREFIX = "FORESIGHT_ALERT_"
SECURITY_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class Alert:
    """One message for a person: a one-line subject and plain-text lines (no customer data)."""

    subject: str
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([self.subject, *self.lines])


@dataclass(frozen=True)
class Delivery:
    channel: str
    delivered: bool
    detail: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: list[str]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "starttls"


@dataclass(frozen=True)
class Notifier:
    """Sends an `Alert` to every configured channel; `repr` shows no secret."""

    webhook_url: str | None = field(default=None, repr=False)
    smtp: SmtpSettings | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return (env.get(ENV_PREFIX + name) or "").strip() or None

        smtp = None
        if host := get("SMTP_HOST"):
            sender, recipients = (
                get("EMAIL_FROM"),
                [r.strip() for r in (get("EMAIL_TO") or "").split(",") if r.strip()],
            )
            if not sender or not recipients:
                raise ValueError(
                    f"{ENV_PREFIX}SMTP_HOST is set: also set {ENV_PREFIX}EMAIL_FROM and "
                    f"{ENV_PREFIX}EMAIL_TO (comma-separated)"
                )
            security = (get("SMTP_SECURITY") or "starttls").lower()
            if security not in SECURITY_MODES:
                raise ValueError(f"{ENV_PREFIX}SMTP_SECURITY must be one of {SECURITY_MODES}")
            port = get("SMTP_PORT") or "587"
            if not port.isdigit():
                raise ValueError(f"{ENV_PREFIX}SMTP_PORT must be a port number")
            smtp = SmtpSettings(host, int(port), sender, recipients, get("SMTP_USER"),
                                get("SMTP_PASSWORD"), security)  # fmt: skip
        return cls(webhook_url=get("WEBHOOK_URL"), smtp=smtp)

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or self.smtp)

    def send(self, alert: Alert) -> list[Delivery]:
        """Deliver to each configured channel; one channel failing does not stop the other."""
        deliveries = []
        if self.webhook_url:
            deliveries.append(self._post_webhook(alert))
        if self.smtp:
            deliveries.append(self._send_email(alert))
        return deliveries

    def _post_webhook(self, alert: Alert) -> Delivery:
        try:
            response = requests.post(
                self.webhook_url, json={"text": alert.text()}, timeout=self.timeout_seconds
            )
        except requests.RequestException as error:
            # The exception text quotes the URL, which is the secret: keep only its type.
            return Delivery("webhook", False, type(error).__name__)
        if response.status_code >= 300:
            return Delivery("webhook", False, f"HTTP {response.status_code}")
        return Delivery("webhook", True)

    def _send_email(self, alert: Alert) -> Delivery:
        smtp = self.smtp
        message = EmailMessage()
        message["Subject"] = f"[Foresight] {alert.subject}"
        message["From"] = smtp.sender
        message["To"] = ", ".join(smtp.recipients)
        message.set_content(alert.text())
        client_class = smtplib.SMTP_SSL if smtp.security == "ssl" else smtplib.SMTP
        try:
            with client_class(smtp.host, smtp.port, timeout=self.timeout_seconds) as client:
                if smtp.security == "starttls":
                    client.starttls()
                if smtp.user:
                    client.login(smtp.user, smtp.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            return Delivery("email", False, type(error).__name__)
        return Delivery("email", True)


def deliver(alert: Alert, notifier: Notifier | None = None) -> list[Delivery]:
    """Send with the environment's notifier (or the one given); [] when none is configured."""
    notifier = notifier or Notifier.from_env()
    return notifier.send(alert) if notifier.configured else []
