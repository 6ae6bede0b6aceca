"""Which notifier the settings ask for."""

from __future__ import annotations

from daemon.config import Settings
from notifiers.base import Notifier
from notifiers.email import SmtpNotifier
from notifiers.maildir import MaildirNotifier


def email_notifier(settings: Settings) -> Notifier:
    """SMTP when PLANBELL_SMTP_HOST is set, else the Maildir at PLANBELL_MAILDIR."""
    if settings.smtp_host:
        return SmtpNotifier(
            settings.smtp_host,
            settings.smtp_port,  # None: the usual port for the security mode
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,  # stays a SecretStr until the login itself
            settings.smtp_timeout,
            settings.mail_from,
        )
    return MaildirNotifier(settings.maildir, settings.mail_from)
