"""企业微信 (WeCom) group robot: markdown to the group, the person @-mentioned in it."""

from __future__ import annotations

from notifiers.base import Outgoing
from notifiers.httpbase import HttpNotifier, fit, lines, mention_ids, to_json

# WeCom refuses markdown content over 4096 bytes of UTF-8 (errcode 40058).
MAX_CONTENT_BYTES = 4096

# 45009: more than 20 messages a minute; -1: "system busy, try again later".
TRANSIENT = {45009, -1}
RATE_LIMITED = {45009}


def defang(text: str) -> str:
    """WeCom markdown reads <@id> as a mention and <font …> as colour, from any text; angle
    brackets from a title or name become their full-width look-alikes so only our mentions ping."""
    return text.replace("<", "＜").replace(">", "＞")


class WecomNotifier(HttpNotifier):
    """POSTs to the robot's webhook URL (…/cgi-bin/webhook/send?key=…)."""

    channel = "wecom"
    service = "WeCom robot"

    def send(self, message: Outgoing) -> None:
        # In WeCom markdown a mention is <@userid> in the content; mentioned_list works only
        # for msgtype text.
        tail = " ".join(f"<@{i}>" for i in mention_ids(message.mentions, "WeCom user"))
        budget = MAX_CONTENT_BYTES - len(tail.encode()) - 2
        content = fit(defang(lines(message.markdown or message.text)), budget)
        if tail:
            content += "\n\n" + tail
        body = to_json({"msgtype": "markdown", "markdown": {"content": content}})
        # WeCom answers HTTP 200 with an errcode for every refusal, so the status alone proves
        # nothing.
        response = self.post(body)
        code, reason = self.answer(response, "errcode")
        if code != 0:
            hint = "check PLANBELL_WECOM_WEBHOOK_URL" if code == 93000 else ""
            raise self.refused(response, code, reason, RATE_LIMITED, TRANSIENT, hint)
