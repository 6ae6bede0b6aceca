"""钉钉 (DingTalk) group robot: markdown to the group, signed when the robot has a secret,
the person @-mentioned by mobile number or user id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import quote_plus

from daemon import clock
from notifiers.base import Outgoing
from notifiers.httpbase import HttpNotifier, lines, mention_ids, one_line, to_json

# 130101 and 410100: sending too fast (more than 20 a minute); -1: "system busy".
RATE_LIMITED = {130101, 410100}
TRANSIENT = RATE_LIMITED | {-1}

# What the robot's mention list accepts as a mobile number; anything else is a user id.
MOBILE = re.compile(r"\+?\d[\d-]{5,19}")


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: HMAC-SHA256 keyed with the secret over "timestamp\\nsecret", base64,
    URL-encoded. The robot refuses a timestamp more than an hour from its own clock."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def defang(text: str) -> str:
    """DingTalk's markdown renders some HTML (<font>, <a>); angle brackets from a title or a
    name become their full-width look-alikes so nothing in them becomes markup."""
    return text.replace("<", "＜").replace(">", "＞")


def hard_breaks(text: str) -> str:
    """DingTalk's markdown joins single line breaks like standard markdown, which would run a
    phone-sized message into one paragraph; two trailing spaces make each a hard break."""
    return "\n".join(line + "  " if line.strip() else line for line in text.split("\n"))


class DingtalkNotifier(HttpNotifier):
    """POSTs to the robot's webhook URL (…/robot/send?access_token=…)."""

    channel = "dingtalk"
    service = "DingTalk robot"

    def send(self, message: Outgoing) -> None:
        ids = mention_ids(message.mentions, "DingTalk mobile or user")
        mobiles = [i for i in ids if MOBILE.fullmatch(i)]
        users = [i for i in ids if not MOBILE.fullmatch(i)]
        text = hard_breaks(defang(lines(message.markdown or message.text)))
        if ids:
            # A mention pings only if the number or id also appears as @… in the text.
            text += "\n\n" + " ".join(f"@{i}" for i in ids)
        at: dict = {"atMobiles": mobiles, "isAtAll": False}
        if users:
            at["atUserIds"] = users
        payload = {
            "msgtype": "markdown",
            # The title is what the chat list and the phone notification show.
            "markdown": {"title": one_line(message.subject)[:64], "text": text},
            "at": at,
        }
        url = self._url
        if self._secret:
            timestamp = int(clock.now().timestamp() * 1000)
            separator = "&" if "?" in url else "?"
            url += f"{separator}timestamp={timestamp}&sign={sign(self._secret, timestamp)}"
        # DingTalk answers HTTP 200 with errcode 130101 when rate-limited, so the status code
        # alone proves nothing.
        response = self.post(to_json(payload), url=url)
        code, reason = self.answer(response, "errcode")
        if code != 0:
            # 310000: the signature, a required keyword or the IP allow-list
            hint = "check PLANBELL_DINGTALK_SECRET and the robot's security settings" if code == 310000 else ""
            raise self.refused(response, code, reason, RATE_LIMITED, TRANSIENT, hint)
