"""飞书 (Feishu/Lark) group robot: an interactive card with a markdown element, signed when the
robot has a secret, the person @-mentioned with <at id=…></at>."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from daemon import clock
from notifiers.base import Outgoing
from notifiers.httpbase import HttpNotifier, fit, lines, mention_ids, one_line, to_json

# A custom robot refuses a request body over 20 KB.
MAX_BODY_BYTES = 20 * 1024

# 9499: too many requests; 11232: frequency limited (the robot allows 5 a second, 100 a minute).
RATE_LIMITED = {9499, 11232}


def sign(secret: str, timestamp_s: int) -> str:
    """Feishu's 签名校验: HMAC-SHA256 keyed with "timestamp\\nsecret" over an empty message,
    base64. (Not DingTalk's scheme: there the secret is the key and the string the message.)"""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def defang(text: str) -> str:
    """Feishu's card markdown reads <at id=all></at> and <font> from any text; its documented
    escapes &lt; and &gt; show angle brackets from a title or name as themselves, inert."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def mention(user: str) -> str:
    kind = "email" if "@" in user else "id"  # open_id (ou_…) or user_id, else an email
    return f"<at {kind}={user}></at>"


def _json_size(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


class FeishuNotifier(HttpNotifier):
    """POSTs to the robot's webhook URL (…/open-apis/bot/v2/hook/…)."""

    channel = "feishu"
    service = "Feishu robot"

    def send(self, message: Outgoing) -> None:
        tail = " ".join(mention(i) for i in mention_ids(message.mentions, "Feishu open_id or user"))
        payload: dict = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    # plain_text: a title is shown as written, never read as markup
                    "title": {"tag": "plain_text", "content": one_line(message.subject)[:100]},
                    "template": "red" if message.kind == "escalation" else "blue",
                },
                "elements": [{"tag": "markdown", "content": ""}],
            },
        }
        if self._secret:
            timestamp = int(clock.now().timestamp())
            payload.update(timestamp=str(timestamp), sign=sign(self._secret, timestamp))
        budget = MAX_BODY_BYTES - len(to_json(payload)) - _json_size("\n\n" + tail)
        content = fit(defang(lines(message.markdown or message.text)), budget, _json_size)
        payload["card"]["elements"][0]["content"] = content + ("\n\n" + tail if tail else "")
        response = self.post(to_json(payload))
        # Feishu answers {"code": 0} (older robots {"StatusCode": 0}), and HTTP 200 for most
        # refusals, so the status code alone proves nothing.
        code, reason = self.answer(response, "code", "StatusCode")
        if code != 0:
            # 19021: the signature, or a timestamp more than an hour from Feishu's clock
            hint = "check PLANBELL_FEISHU_SECRET and this machine's clock" if code == 19021 else ""
            raise self.refused(response, code, reason, RATE_LIMITED, hint=hint)
