"""What every HTTP channel shares: one httpx client per batch, the JSON answer read back, and
every httpx failure told as a sentence that names the service and host but never the webhook's
key or secret (a robot's URL is its password)."""

from __future__ import annotations

import json
import re
import socket
import ssl
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlsplit

import httpx

from daemon import clock, defaults
from notifiers.base import Notifier, TransportError

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

# Ids that can stand inside a robot's mention syntax (<@id>, <at id=id>, @id) without closing
# it early or starting markup of their own.
MENTION_ID = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")


def reveal(value) -> str:
    """A str, or anything with get_secret_value() (pydantic's SecretStr)."""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def to_json(payload: dict) -> bytes:
    # UTF-8 rather than \\u escapes: half the size for Chinese, and robots' size limits are in bytes.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def one_line(text: str) -> str:
    """Titles and names: CR, LF and other runs of whitespace become one space."""
    return " ".join(text.split())


def lines(text: str) -> str:
    """A body with bare CR and CRLF made LF, so no client sees a half line break."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def fit(text: str, max_bytes: int, measure=lambda s: len(s.encode("utf-8"))) -> str:
    """``text``, cut at a line end if possible, so that ``measure`` of it is at most max_bytes.
    A robot refuses an oversized message outright; a cut one still says the most urgent part,
    which the templates put first."""
    if measure(text) <= max_bytes:
        return text
    marker = "\n…"
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the marker
        middle = (low + high + 1) // 2
        if measure(text[:middle] + marker) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    head = text[:low]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    return head.rstrip() + marker


class HttpNotifier(Notifier):
    """POSTs to one URL. Between ``open()`` and ``close()`` one httpx client (and its kept-alive
    connection) serves every ``send()``; a ``send()`` outside a batch makes its own."""

    service = "Webhook"  # how sentences name the other end
    # The dispatcher spaces sends to this; a notifier never sleeps.
    rate_per_minute: int = defaults.ROBOT_RATE_PER_MINUTE

    def __init__(
        self,
        url,  # str or SecretStr: the URL embeds the robot's key
        secret=None,
        timeout: float = defaults.MESSAGING_TIMEOUT_SECONDS,
        *,
        transport: httpx.BaseTransport | None = None,
    ):
        self._url = reveal(url).strip()
        parts = urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{self.service} URL must be an http(s) URL with a host")
        self._secret = reveal(secret) or None
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None
        self._in_batch = False
        self.host = parts.hostname
        self.where = parts.hostname + (f":{parts.port}" if parts.port else "")
        # Everything in the URL beyond scheme and host may be a credential: the query (WeCom's
        # key, DingTalk's access_token), the path (Feishu's hook id), a user:password. Short
        # pieces are not keys, and masking them would garble words ("webhook", "robot").
        hidden = [self._url, self._secret, parts.query, parts.password]
        hidden += [v for _, v in parse_qsl(parts.query) if len(v) >= 6]
        hidden += [v for v in parts.path.split("/") if len(v) >= 16]
        self._hidden = [v for v in hidden if v]
        self._hidden.sort(key=len, reverse=True)

    def open(self) -> None:
        self._in_batch = True

    def close(self) -> None:
        self._in_batch = False
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- the request --------------------------------------------------------------------

    def post(self, body: bytes, headers: dict[str, str] | None = None, url: str | None = None):
        """POST ``body``; returns the response of any status, or raises TransportError."""
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout, transport=self._transport, follow_redirects=False
            )
        try:
            return self._client.post(url or self._url, content=body, headers={**JSON_HEADERS, **(headers or {})})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self.error(self._describe(exc), permanent=_is_config(exc)) from exc
        finally:
            if not self._in_batch:
                self.close()

    def answer(self, response: httpx.Response, *code_fields: str) -> tuple[int, str]:
        """The robot's (code, message) from its JSON answer, from the first of ``code_fields``
        it carries. An answer without one raises TransportError: by its HTTP status if that is
        an error, else as unreadable."""
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict):
            for field in code_fields:
                if isinstance(data.get(field), int):
                    message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
                    return data[field], one_line(str(message))[:300]
        self.check_status(response)
        raise self.error(
            f"{self.service} at {self.where} answered HTTP {response.status_code} with "
            f"{_sample(response)} instead of its JSON result; the message may or may not have arrived"
        )

    def refused(
        self, response: httpx.Response, code: int, reason: str, rate_limited, transient=(), hint=""
    ) -> TransportError:
        """The error for a robot's non-zero code: rate limits wait a minute, codes the robot
        calls temporary and anything under a 5xx status are retried, the rest are permanent."""
        what = f"{self.service} at {self.where} refused the message: {code} {reason}".rstrip()
        if code in rate_limited:
            return self.error(what, retry_after=defaults.ROBOT_RATE_LIMIT_RETRY_SECONDS)
        permanent = code not in transient and response.status_code < 500
        return self.error(what + (f" ({hint})" if hint and permanent else ""), permanent=permanent)

    def check_status(self, response: httpx.Response) -> None:
        """Raise for any status but 2xx: 408, 429 and 5xx can pass, other 4xx and 3xx cannot."""
        status = response.status_code
        if 200 <= status < 300:
            return
        what = f"{self.service} at {self.where} answered HTTP {status} {response.reason_phrase}".rstrip()
        if status in (429, 503):
            raise self.error(what, retry_after=retry_after(response.headers.get("Retry-After")))
        if status == 408 or status >= 500:
            raise self.error(what)
        if 300 <= status < 400:
            raise self.error(f"{what}: a redirect; set the URL it points to", permanent=True)
        raise self.error(f"{what}: {_sample(response)}", permanent=True)

    def error(self, sentence: str, permanent: bool = False, retry_after: float | None = None):
        """A TransportError whose message carries no piece of the URL's credentials."""
        for hidden in self._hidden:
            sentence = sentence.replace(hidden, "***")
        return TransportError(sentence, permanent=permanent, retry_after=retry_after)

    # --- the border: httpx exceptions become sentences --------------------------------

    def _describe(self, exc: Exception) -> str:
        who, timeout = f"{self.service} at {self.where}", f"{self.timeout:g} s"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"Connecting to {who} timed out after {timeout}"
        if isinstance(exc, httpx.TimeoutException):
            # The request may have arrived; a retry can repeat it, which the key lets the far
            # side spot, while giving up could lose it.
            return f"{who} did not answer within {timeout}"
        if isinstance(exc, httpx.ConnectError):
            cause = _os_cause(exc)
            if isinstance(cause, ConnectionRefusedError):
                return f"Connection to {who} refused; is the service reachable from this machine?"
            if isinstance(cause, socket.gaierror):
                return f"Cannot resolve {self.service} host {self.host!r}: {cause.strerror or cause}"
            if isinstance(cause, ssl.SSLCertVerificationError):
                return f"TLS certificate of {self.where} could not be verified: {cause.verify_message}"
            if isinstance(cause, ssl.SSLError):
                return f"TLS with {who} failed: {cause.reason or cause}"
            return f"Connection to {who} failed: {_reason(exc)}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"{who} closed the connection without a proper HTTP answer: {_reason(exc)}"
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return f"The {self.service} URL cannot be used: {_reason(exc)}"
        return f"Request to {who} failed: {_reason(exc)}"


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - clock.now()).total_seconds(), 0.0)


def mention_ids(ids, service: str) -> list[str]:
    """The ids to @-mention; one that would break out of the mention syntax is refused."""
    out = []
    for raw in ids:
        if not MENTION_ID.fullmatch(raw):
            raise TransportError(
                f"{service} id {one_line(raw)[:64]!r} cannot be @-mentioned: use only letters, "
                "digits and _ . @ + - (check the person's entry in the roster)",
                permanent=True,
            )
        out.append(raw)
    return list(dict.fromkeys(out))


def _is_config(exc: Exception) -> bool:
    return isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol)


def _os_cause(exc: BaseException) -> OSError | None:
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _reason(exc: BaseException) -> str:
    cause = _os_cause(exc)
    return (cause.strerror if cause is not None and cause.strerror else str(exc)) or type(exc).__name__


def _sample(response: httpx.Response) -> str:
    text = one_line(response.text)[:200] if response.content else ""
    return repr(text) if text else "an empty body"
