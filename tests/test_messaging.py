"""The messaging channels against real HTTP servers on 127.0.0.1 that answer as WeCom, DingTalk
and Feishu robots and an in-house OA webhook do, and check each signature as the real service
does: recomputed here from the secret and the request, not with the notifier's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from daemon.config import ConfigError, load_settings
from daemon.render import render
from notifiers.base import Outgoing, TransportError
from notifiers.dingtalk import DingtalkNotifier
from notifiers.factory import messaging_notifiers
from notifiers.feishu import FeishuNotifier
from notifiers.webhook import WebhookNotifier
from notifiers.wecom import WecomNotifier

SHANGHAI = ZoneInfo("Asia/Shanghai")
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK_TOKEN = "6d2f3b5c8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c"
DINGTALK_SECRET = "SEC9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d2c1b0a"
FEISHU_HOOK = "2f3e4d5c-6b7a-4899-8a7b-6c5d4e3f2a1b"
FEISHU_SECRET = "qL8sT3vX9yZ2aB4c"
WEBHOOK_TOKEN = "oa-token-5b6c7d8e9f"
WEBHOOK_SECRET = "一个很长的共享密钥-shared-secret-2026"
SECRETS = (WECOM_KEY, DINGTALK_TOKEN, DINGTALK_SECRET, FEISHU_HOOK, FEISHU_SECRET,
           WEBHOOK_TOKEN, WEBHOOK_SECRET)

MARKDOWN = (
    "**【planbell 工作提醒】张伟,以下 1 项工作待办理**\n\n"
    "**1. 一季度安全生产大检查**\n"
    "截止:2026年3月31日 周二,**还有 7 天到期**\n"
    "原文:各部门于每季度末前完成安全生产自查,并报送整改台账。\n"
    "销号:`planbell done safety-q1@2026-03-31`"
)
HOSTILE_TITLE = "<script>alert(1)</script>【提醒】"
HOSTILE_NAME = "张伟\r\nX-Injected: yes\r\n\r\n# 伪造标题"


def outgoing(**changes) -> Outgoing:
    fields = dict(
        key="plan-2026/safety-q1/2026-03-31/remind-7d/zhang-wei:wecom",
        kind="reminder",
        to_address="zhangwei",
        to_name="张伟",
        subject="【planbell】一季度安全生产大检查:还有 7 天到期",
        text=MARKDOWN,
        markdown=MARKDOWN,
        occurrence_ids=("safety-q1@2026-03-31",),
        date=datetime(2026, 3, 24, 9, 0, tzinfo=SHANGHAI),
        mentions=("zhangwei",),
    )
    return Outgoing(**{**fields, **changes})


# --- a real HTTP server ------------------------------------------------------------------


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_port: int

    def json(self):
        return json.loads(self.body.decode("utf-8"))


HANG = object()  # a reply that never comes


class Server:
    """HTTP/1.1 on 127.0.0.1 (keep-alive, so connection reuse shows); ``reply(request)``
    returns (status, JSON-able body or bytes, headers) or HANG."""

    def __init__(self, reply):
        self.reply = reply
        self.requests: list[Request] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", 0))
                request = Request(
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    self.client_address[1],
                )
                server.requests.append(request)
                answer = server.reply(request)
                if answer is HANG:
                    server.release.wait(10)
                    self.close_connection = True
                    return
                status, body, headers = answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/html")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def last(self) -> Request:
        return self.requests[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the services, as they answer --------------------------------------------------------


def wecom(limit_per_minute: int = 20):
    sent = []

    def reply(request: Request):
        if request.path != "/cgi-bin/webhook/send" or request.query.get("key") != WECOM_KEY:
            # The real service echoes nothing secret; this one does, to prove it is masked.
            return 200, {"errcode": 93000, "errmsg": f"invalid webhook url, key={request.query.get('key')}"}, None
        payload = request.json()
        if payload.get("msgtype") != "markdown":
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}, None
        if len(payload["markdown"]["content"].encode()) > 4096:
            return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}, None
        if len(sent) >= limit_per_minute:
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, None
        sent.append(payload)
        return 200, {"errcode": 0, "errmsg": "ok"}, None

    return reply


def dingtalk(secret: str | None = DINGTALK_SECRET, answer: dict | None = None):
    def reply(request: Request):
        if request.query.get("access_token") != DINGTALK_TOKEN:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}, None
        if secret:
            timestamp, given = request.query.get("timestamp", ""), request.query.get("sign", "")
            expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                                 hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
            if not (fresh and hmac.compare_digest(given, expected)):
                return 200, {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}, None
        request.json()
        return 200, answer or {"errcode": 0, "errmsg": "ok"}, None

    return reply


def feishu(secret: str | None = FEISHU_SECRET, answer: dict | None = None):
    def reply(request: Request):
        if request.path != f"/open-apis/bot/v2/hook/{FEISHU_HOOK}":
            return 404, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}, None
        payload = request.json()
        if secret:
            timestamp, given = payload.get("timestamp", ""), payload.get("sign", "")
            key = f"{timestamp}\n{secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 3600
            if not (fresh and hmac.compare_digest(given, expected)):
                return 200, {"code": 19021, "data": {}, "msg": "sign match fail or timestamp is not within one hour from current time"}, None
        return 200, answer or {"code": 0, "data": {}, "msg": "success"}, None

    return reply


def oa(secret: str | None = WEBHOOK_SECRET, status: int = 204, headers: dict | None = None):
    def reply(request: Request):
        if secret:
            expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(request.headers.get("x-planbell-signature", ""), expected):
                return 401, b"bad signature", None
        request.json()
        return status, b"" if status == 204 else {"ok": status < 300}, headers

    return reply


# --- notifiers pointed at a server -------------------------------------------------------


def wecom_at(server: Server, key: str = WECOM_KEY, **kw) -> WecomNotifier:
    return WecomNotifier(f"{server.base}/cgi-bin/webhook/send?key={key}", **kw)


def dingtalk_at(server: Server, secret: str | None = DINGTALK_SECRET, **kw) -> DingtalkNotifier:
    return DingtalkNotifier(f"{server.base}/robot/send?access_token={DINGTALK_TOKEN}", secret, **kw)


def feishu_at(server: Server, secret: str | None = FEISHU_SECRET, **kw) -> FeishuNotifier:
    return FeishuNotifier(f"{server.base}/open-apis/bot/v2/hook/{FEISHU_HOOK}", secret, **kw)


def webhook_at(server: Server, secret: str | None = WEBHOOK_SECRET, **kw) -> WebhookNotifier:
    return WebhookNotifier(f"{server.base}/oa/planbell?token={WEBHOOK_TOKEN}", secret, **kw)


CHANNELS = {
    "wecom": (wecom, wecom_at),
    "dingtalk": (dingtalk, dingtalk_at),
    "feishu": (feishu, feishu_at),
    "webhook": (oa, webhook_at),
}


def failure(notifier, message: Outgoing | None = None) -> TransportError:
    """The TransportError a send raises, checked to carry no key, token or secret."""
    with pytest.raises(TransportError) as caught:
        notifier.send(message or outgoing())
    error = caught.value
    for secret in SECRETS:
        assert secret not in error.message and secret not in str(error)
    return error


# --- WeCom -------------------------------------------------------------------------------


def test_wecom_sends_markdown_with_the_person_mentioned_in_the_content():
    with Server(wecom()) as server:
        wecom_at(server).send(outgoing())
    request = server.last
    assert request.headers["content-type"].startswith("application/json")
    assert "一季度安全生产大检查".encode() in request.body  # raw UTF-8, not \u escapes
    payload = request.json()
    assert payload["msgtype"] == "markdown"
    content = payload["markdown"]["content"]
    assert content.startswith(MARKDOWN)
    assert "截止:2026年3月31日 周二" in content
    assert re.findall(r"<@([^>]*)>", content) == ["zhangwei"]


def test_wecom_rate_limit_is_transient_with_a_minute_to_wait():
    with Server(wecom(limit_per_minute=1)) as server:
        notifier = wecom_at(server)
        notifier.send(outgoing())
        error = failure(notifier)
    assert not error.permanent
    assert error.retry_after == 60
    assert "45009" in error.message


def test_wecom_invalid_key_is_permanent_and_the_key_is_masked_even_when_echoed():
    with Server(wecom()) as server:
        error = failure(wecom_at(server, key="0000dead-beef-4bad-8bad-feedfacecafe"))
    assert error.permanent
    assert "93000" in error.message and "PLANBELL_WECOM_WEBHOOK_URL" in error.message
    assert "0000dead-beef-4bad-8bad-feedfacecafe" not in error.message


def test_wecom_long_message_is_cut_to_4096_bytes_and_keeps_the_mention():
    long = MARKDOWN + "\n" + "\n".join(f"第 {n} 行:各部门按时报送材料。" for n in range(400))
    with Server(wecom()) as server:
        wecom_at(server).send(outgoing(markdown=long))
    content = server.last.json()["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.startswith(MARKDOWN) and content.endswith("<@zhangwei>")
    assert "\n…\n" in content


def test_rate_per_minute_is_exposed_for_the_dispatcher():
    for cls in (WecomNotifier, DingtalkNotifier, FeishuNotifier, WebhookNotifier):
        assert cls.rate_per_minute == 20


# --- DingTalk ----------------------------------------------------------------------------


def test_dingtalk_signed_markdown_mentions_by_mobile_in_at_and_in_the_text():
    with Server(dingtalk()) as server:
        dingtalk_at(server).send(outgoing(mentions=("13800000011", "manager4567")))
    request = server.last
    assert set(request.query) == {"access_token", "timestamp", "sign"}  # verified by the server
    payload = request.json()
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "【planbell】一季度安全生产大检查:还有 7 天到期"
    text = payload["markdown"]["text"]
    assert "一季度安全生产大检查" in text and "@13800000011" in text and "@manager4567" in text
    assert payload["at"] == {"atMobiles": ["13800000011"], "atUserIds": ["manager4567"], "isAtAll": False}


def test_dingtalk_without_a_secret_sends_no_signature():
    with Server(dingtalk(secret=None)) as server:
        dingtalk_at(server, secret=None).send(outgoing(mentions=("13800000011",)))
    assert set(server.last.query) == {"access_token"}


def test_dingtalk_wrong_secret_is_permanent_and_names_the_setting():
    with Server(dingtalk()) as server:
        error = failure(dingtalk_at(server, secret="SECwrong0000000000"))
    assert error.permanent
    assert "310000" in error.message and "PLANBELL_DINGTALK_SECRET" in error.message
    assert "SECwrong0000000000" not in error.message


def test_dingtalk_rate_limit_answered_with_http_200_is_transient():
    answer = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    with Server(dingtalk(answer=answer)) as server:
        error = failure(dingtalk_at(server))
    assert not error.permanent and error.retry_after == 60


# --- Feishu ------------------------------------------------------------------------------


def test_feishu_signed_card_renders_markdown_and_mentions_with_at_tags():
    with Server(feishu()) as server:
        feishu_at(server).send(outgoing(mentions=("ou_7d8a6e6df7621556ce0d21922b676706",)))
    payload = server.last.json()  # the signature was verified by the server
    assert payload["msg_type"] == "interactive"
    assert payload["timestamp"].isdigit() and payload["sign"]
    card = payload["card"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": "【planbell】一季度安全生产大检查:还有 7 天到期"}
    [element] = card["elements"]
    assert element["tag"] == "markdown"
    assert element["content"].startswith(MARKDOWN)
    assert re.findall(r"<at [^>]*></at>", element["content"]) == ["<at id=ou_7d8a6e6df7621556ce0d21922b676706></at>"]


def test_feishu_accepts_the_older_status_code_answer():
    with Server(feishu(answer={"Extra": None, "StatusCode": 0, "StatusMessage": "success"})) as server:
        feishu_at(server).send(outgoing())
    assert len(server.requests) == 1


def test_feishu_sign_mismatch_is_permanent():
    with Server(feishu()) as server:
        error = failure(feishu_at(server, secret="not-the-secret"))
    assert error.permanent
    assert "19021" in error.message and "PLANBELL_FEISHU_SECRET" in error.message


@pytest.mark.parametrize("code", [9499, 11232])
def test_feishu_rate_limit_is_transient(code):
    with Server(feishu(answer={"code": code, "data": {}, "msg": "too many request"})) as server:
        error = failure(feishu_at(server))
    assert not error.permanent and error.retry_after == 60


def test_feishu_huge_message_stays_under_the_20_kb_body_limit():
    long = MARKDOWN + "\n" + "\n".join(f"第 {n} 行:\"各部门\"按时报送材料。" for n in range(2000))
    with Server(feishu()) as server:
        feishu_at(server).send(outgoing(markdown=long, mentions=("ou_x",)))
    assert len(server.last.body) <= 20 * 1024
    assert server.last.json()["card"]["elements"][0]["content"].endswith("<at id=ou_x></at>")


# --- the generic webhook -----------------------------------------------------------------


def test_webhook_posts_the_whole_message_signed_over_the_raw_body():
    with Server(oa()) as server:
        webhook_at(server).send(outgoing(to_address="zhangwei@example.gov.cn"))
    request = server.last
    assert request.headers["x-planbell-key"] == "plan-2026/safety-q1/2026-03-31/remind-7d/zhang-wei:wecom"
    assert request.headers["x-planbell-signature"].startswith("sha256=")  # verified by the server
    assert request.json() == {
        "key": "plan-2026/safety-q1/2026-03-31/remind-7d/zhang-wei:wecom",
        "kind": "reminder",
        "to": {"address": "zhangwei@example.gov.cn", "name": "张伟"},
        "subject": "【planbell】一季度安全生产大检查:还有 7 天到期",
        "text": MARKDOWN,
        "markdown": MARKDOWN,
        "occurrences": ["safety-q1@2026-03-31"],
        "date": "2026-03-24T09:00:00+08:00",
    }


def test_webhook_without_a_secret_sends_no_signature():
    with Server(oa(secret=None)) as server:
        webhook_at(server, secret=None).send(outgoing())
    assert "x-planbell-signature" not in server.last.headers


def test_webhook_signature_with_the_wrong_secret_is_refused_permanently():
    with Server(oa()) as server:
        error = failure(webhook_at(server, secret="something else"))
    assert error.permanent and "401" in error.message


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "retry_after"),
    [
        (429, {"Retry-After": "120"}, False, 120),
        (503, {"Retry-After": "30"}, False, 30),
        (503, None, False, None),
        (500, None, False, None),
        (502, None, False, None),
        (400, None, True, None),
        (404, None, True, None),
        (410, None, True, None),
        (301, {"Location": "https://oa.example.gov.cn/new"}, True, None),
    ],
)
def test_webhook_status_decides_between_retry_and_give_up(status, headers, permanent, retry_after):
    with Server(oa(status=status, headers=headers)) as server:
        error = failure(webhook_at(server))
    assert error.permanent is permanent
    assert error.retry_after == retry_after
    assert f"HTTP {status}" in error.message and "127.0.0.1" in error.message


def test_webhook_retry_after_as_an_http_date():
    later = datetime.fromtimestamp(time.time() + 300, SHANGHAI)
    with Server(oa(status=429, headers={"Retry-After": format_datetime(later, usegmt=False)})) as server:
        error = failure(webhook_at(server))
    assert 290 <= error.retry_after <= 301


def test_webhook_token_in_the_path_is_masked_even_when_the_answer_echoes_it():
    token = "T0ABCDEF/B0GHIJKL/" + WEBHOOK_TOKEN + "xyzxyzxyz"
    with Server(lambda request: (404, f"no hook at {request.path}".encode(), None)) as server:
        error = failure(WebhookNotifier(f"{server.base}/hooks/{token}"))
    assert error.permanent and "404" in error.message
    assert WEBHOOK_TOKEN not in error.message and "/hooks/" in error.message


def test_webhook_accepts_any_2xx():
    for status in (200, 201, 202, 204):
        with Server(oa(status=status)) as server:
            webhook_at(server).send(outgoing())


# --- what every channel shares -----------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_service_that_does_not_answer_in_time_is_transient(channel):
    _, notifier_at = CHANNELS[channel]
    with Server(lambda request: HANG) as server:
        started = time.monotonic()
        error = failure(notifier_at(server, timeout=0.3))
    assert time.monotonic() - started < 5
    assert not error.permanent
    assert "did not answer within 0.3 s" in error.message and "127.0.0.1" in error.message


@pytest.mark.parametrize("channel", CHANNELS)
def test_connection_refused_is_transient(channel):
    _, notifier_at = CHANNELS[channel]
    nowhere = SimpleNamespace(base=f"http://127.0.0.1:{free_port()}")
    error = failure(notifier_at(nowhere, timeout=2))
    assert not error.permanent
    assert "refused" in error.message


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "feishu"])
def test_a_robot_answering_with_something_other_than_json_is_transient(channel):
    _, notifier_at = CHANNELS[channel]
    with Server(lambda request: (200, b"<html>gateway portal</html>", None)) as server:
        error = failure(notifier_at(server))
    assert not error.permanent
    assert "instead of its JSON result" in error.message and "gateway portal" in error.message


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "feishu"])
def test_a_robot_behind_a_failing_gateway_is_transient_and_a_wrong_path_permanent(channel):
    _, notifier_at = CHANNELS[channel]
    with Server(lambda request: (502, b"<html>Bad Gateway</html>", None)) as server:
        assert not failure(notifier_at(server)).permanent
    with Server(lambda request: (404, b"<html>Not Found</html>", None)) as server:
        assert failure(notifier_at(server)).permanent


@pytest.mark.parametrize("channel", CHANNELS)
def test_one_connection_serves_a_batch_and_a_lone_send_needs_no_open(channel):
    service, notifier_at = CHANNELS[channel]
    with Server(service()) as server:
        notifier = notifier_at(server)
        with notifier:
            notifier.send(outgoing())
            notifier.send(outgoing())
        notifier.send(outgoing())
    ports = [r.client_port for r in server.requests]
    assert ports[0] == ports[1] != ports[2]


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "feishu"])
def test_a_mention_id_that_would_break_out_of_the_markup_is_refused(channel):
    service, notifier_at = CHANNELS[channel]
    with Server(service()) as server:
        error = failure(notifier_at(server), outgoing(mentions=("ou_x></at><at id=all",)))
    assert error.permanent and "roster" in error.message
    assert server.requests == []


# --- hostile input -----------------------------------------------------------------------


def hostile() -> Outgoing:
    body = (f"**{HOSTILE_TITLE}**\n张伟,请处理。\n<@all> <at id=all></at> <font color=\"warning\">x</font>\r\n"
            "原文:「季末」前报送。")
    return outgoing(subject=f"{HOSTILE_TITLE}\r\n第二行", to_name=HOSTILE_NAME, markdown=body, text=body,
                    key="plan-2026/x\r\nX-Injected: yes")


def test_wecom_hostile_text_cannot_add_markup_or_mentions():
    with Server(wecom()) as server:
        wecom_at(server).send(hostile())
    content = server.last.json()["markdown"]["content"]
    assert "<script>" not in content and "<font" not in content and "\r" not in content
    assert re.findall(r"<@([^>]*)>", content) == ["zhangwei"]
    assert "＜script＞alert(1)＜/script＞【提醒】" in content  # still readable


def test_dingtalk_hostile_text_cannot_add_markup_and_the_title_stays_one_line():
    with Server(dingtalk()) as server:
        dingtalk_at(server).send(hostile())
    payload = server.last.json()
    assert payload["markdown"]["title"] == "<script>alert(1)</script>【提醒】 第二行"  # plain text there
    assert "<" not in payload["markdown"]["text"] and "\r" not in payload["markdown"]["text"]
    assert payload["at"]["isAtAll"] is False


def test_feishu_hostile_text_cannot_add_markup_or_mentions():
    with Server(feishu()) as server:
        feishu_at(server).send(hostile())
    card = server.last.json()["card"]
    content = card["elements"][0]["content"]
    assert "<script>" not in content and "<font" not in content
    assert re.findall(r"<at [^>]*>", content) == ["<at id=zhangwei>"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;【提醒】" in content
    assert card["header"]["title"] == {"tag": "plain_text", "content": "<script>alert(1)</script>【提醒】 第二行"}


def test_webhook_carries_hostile_text_exactly_as_json_and_never_as_a_header():
    with Server(oa()) as server:
        webhook_at(server).send(hostile())
    request = server.last
    payload = request.json()
    assert payload["to"]["name"] == HOSTILE_NAME
    assert payload["subject"] == f"{HOSTILE_TITLE}\r\n第二行"
    assert payload["key"] == "plan-2026/x\r\nX-Injected: yes"
    assert "x-injected" not in request.headers
    assert request.headers["x-planbell-key"] == "plan-2026/x%0D%0AX-Injected:%20yes"


# --- settings and the factory ------------------------------------------------------------


def test_messaging_notifiers_are_the_configured_robots(monkeypatch, tmp_path):
    for name in ("WECOM_WEBHOOK_URL", "DINGTALK_WEBHOOK_URL", "DINGTALK_SECRET", "FEISHU_WEBHOOK_URL",
                 "FEISHU_SECRET", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.delenv(f"PLANBELL_{name}", raising=False)
    assert messaging_notifiers(load_settings()) == {}
    secret_file = tmp_path / "feishu-secret"
    secret_file.write_text(FEISHU_SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("PLANBELL_WECOM_WEBHOOK_URL", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}")
    monkeypatch.setenv("PLANBELL_FEISHU_WEBHOOK_URL", f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_HOOK}")
    monkeypatch.setenv("PLANBELL_FEISHU_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("PLANBELL_MESSAGING_TIMEOUT", "3")
    settings = load_settings()
    assert FEISHU_SECRET not in repr(settings) and WECOM_KEY not in repr(settings)
    robots = messaging_notifiers(settings)
    assert set(robots) == {"wecom", "feishu"}
    assert isinstance(robots["wecom"], WecomNotifier) and isinstance(robots["feishu"], FeishuNotifier)
    assert robots["feishu"]._secret == FEISHU_SECRET and robots["feishu"].timeout == 3
    assert robots["feishu"].where == "open.feishu.cn"


def test_a_webhook_url_that_is_not_a_url_fails_fast_without_echoing_it(monkeypatch):
    monkeypatch.setenv("PLANBELL_DINGTALK_WEBHOOK_URL", f"oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "PLANBELL_DINGTALK_WEBHOOK_URL" in str(caught.value)
    assert DINGTALK_TOKEN not in str(caught.value)


# --- templates ---------------------------------------------------------------------------


def template_context(**changes):
    occurrence = SimpleNamespace(
        id="safety-q1@2026-03-31", title="一季度安全生产大检查", due=date(2026, 3, 31), period="2026Q1",
        item=3, source="各部门于每季度末前完成安全生产自查,并报送整改台账。", lead="zhang-wei",
    )
    links = {"done": "https://pb.example/act/T1", "explain": "https://pb.example/act/T2"}
    item = {"occurrence": occurrence, "stage": "remind-7d", "days_left": 7, "item_title": "安全生产",
            "owner_name": "办公室", "assignee_names": ["张伟", "李娜"], "subject_name": None, "links": links,
            "lead_name": "张伟", "colleague_names": ["李娜"],
            "contacts": [SimpleNamespace(id="li-na", name="李娜", email="lina@example.gov.cn", phone="13800000002")]}
    context = {"person": SimpleNamespace(name="张伟"), "late": False, "today": date(2026, 3, 24),
               "send_at": datetime(2026, 3, 24, 9, 0, tzinfo=SHANGHAI), "kind": "reminder", "items": [item],
               "me_url": "https://pb.example/me"}
    return {**context, **changes}


def test_reminder_markdown_says_what_when_how_long_and_how_to_check_it_off():
    text = render("messaging/reminder.md", **template_context())
    assert text.splitlines()[0] == "**【planbell 工作提醒】张伟,以下 1 项工作待办理**"
    assert "截止:2026年3月31日 周二,**还有 7 天到期**" in text
    assert "原文:各部门于每季度末前完成安全生产自查,并报送整改台账。" in text
    assert "[已完成,去销号](https://pb.example/act/T1) · [说明情况 / 申请不办理](https://pb.example/act/T2)" in text
    assert "[我的工作台](https://pb.example/me)" in text
    assert "planbell done" not in text  # nobody in a group chat has a shell
    assert "\n责任:办公室;牵头:张伟;参与:李娜\n原文:" in text  # each on a line of its own
    assert "迟发" not in text
    assert len(text) < 500  # a phone screen


def test_reminder_markdown_keeps_names_with_line_breaks_on_one_line():
    context = template_context(person=SimpleNamespace(name=HOSTILE_NAME), late=True)
    text = render("messaging/reminder.md", **context)
    assert "\n# 伪造标题" not in text and "\r" not in text
    assert "张伟 X-Injected: yes # 伪造标题" in text.splitlines()[0]
    assert "3月24日 09:00" in text and "迟发" in text


def test_escalation_markdown_counts_days_late():
    context = template_context()
    context["items"][0].update(stage="escalation", days_left=-4, subject_name="王五")
    text = render("messaging/escalation.md", **context)
    assert text.startswith("**【planbell 逾期督办】张伟")
    assert "**1. 一季度安全生产大检查**(王五)" in text
    assert "已逾期 4 天" in text and "[已完成,去销号](https://pb.example/act/T1)" in text
    assert "联系:李娜 lina@example.gov.cn 电话 13800000002" in text


@pytest.mark.parametrize(
    ("topic", "fields", "expected"),
    [
        ("schedule-invalid", {"errors": ["plan-2026.yaml:143: 'quaterly' is not a cadence"], "running_version": "a1b2"},
         "plan-2026.yaml:143"),
        ("delivery-failed", {"attempts": 8, "recipient": "zhang-wei", "channel": "wecom",
                             "error": "WeCom robot refused", "key": "k1"}, "8 次尝试"),
        ("expired", {"count": 3, "horizon_days": 7, "oldest": "2026-03-01T09:00:00+08:00"}, "3 条提醒过期未发"),
    ],
)
def test_admin_markdown_for_each_topic(topic, fields, expected):
    text = render("messaging/admin.md", person=SimpleNamespace(name="徐丽"), late=False, topic=topic, **fields)
    assert text.startswith("**【planbell 管理提醒】") and expected in text
