"""Which notifier the settings ask for."""

from __future__ import annotations

from daemon.config import Settings
from notifiers.base import Notifier
from notifiers.dingtalk import DingtalkNotifier
from notifiers.email import SmtpNotifier
from notifiers.feishu import FeishuNotifier
from notifiers.maildir import MaildirNotifier
from notifiers.webhook import WebhookNotifier
from notifiers.wecom import WecomNotifier


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


def messaging_notifiers(settings: Settings) -> dict[str, Notifier]:
    """The robots whose webhook URL is set, keyed by channel: wecom, dingtalk, feishu, webhook."""
    timeout = settings.messaging_timeout
    out: dict[str, Notifier] = {}
    if settings.wecom_webhook_url:
        out["wecom"] = WecomNotifier(settings.wecom_webhook_url, timeout=timeout)
    if settings.dingtalk_webhook_url:
        out["dingtalk"] = DingtalkNotifier(settings.dingtalk_webhook_url, settings.dingtalk_secret, timeout)
    if settings.feishu_webhook_url:
        out["feishu"] = FeishuNotifier(settings.feishu_webhook_url, settings.feishu_secret, timeout)
    if settings.webhook_url:
        out["webhook"] = WebhookNotifier(settings.webhook_url, settings.webhook_secret, timeout)
    return out


def all_notifiers(settings: Settings) -> dict[str, Notifier]:
    """Every configured channel, keyed by channel name: email always, robots when set."""
    return {"email": email_notifier(settings), **messaging_notifiers(settings)}
