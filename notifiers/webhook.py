"""A generic JSON webhook for an in-house OA system: the whole message as JSON, signed with
HMAC-SHA256 when a secret is set, acknowledged by any 2xx status."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from notifiers.base import Outgoing
from notifiers.httpbase import HttpNotifier, to_json


def signature(secret: str, body: bytes) -> str:
    """X-Planbell-Signature: over the raw body bytes, as GitHub signs its webhooks, so the
    receiver checks exactly what arrived before parsing it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(message: Outgoing) -> dict:
    return {
        "key": message.key,
        "kind": message.kind,
        "to": {"address": message.to_address, "name": message.to_name},
        "subject": message.subject,
        "text": message.text,
        "markdown": message.markdown,
        "occurrences": list(message.occurrence_ids),
        "date": message.date.isoformat() if message.date else None,
    }


class WebhookNotifier(HttpNotifier):
    """POSTs to PLANBELL_WEBHOOK_URL. 2xx is delivered; 408, 429, 503 and other 5xx are worth
    a retry (honouring Retry-After); any other status is permanent."""

    channel = "webhook"
    service = "Webhook"

    def send(self, message: Outgoing) -> None:
        body = to_json(payload(message))
        # The key is made by planbell, but a header must stay one line of ASCII whatever it holds.
        headers = {"X-Planbell-Key": quote(message.key, safe="/@:+-._~=,;!*'()")}
        if self._secret:
            headers["X-Planbell-Signature"] = signature(self._secret, body)
        self.check_status(self.post(body, headers))
