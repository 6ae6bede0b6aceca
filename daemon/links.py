"""Signed links: what a message's buttons and a browser's cookie carry.

Every token is an itsdangerous signature (HMAC-SHA256) over a small JSON list, with its own
salt per kind, so a token made for one purpose never verifies as another. Expiry is written
into the payload and checked against an injected ``now`` (not itsdangerous' own timestamps,
which read the wall clock). Tokens are never logged.

Kinds:
- action: one person, one occurrence, one purpose (done | progress | explain); valid until the
  due date plus ACTION_GRACE. ``group`` marks a link posted to a robot's group chat, where
  everyone sees it: it acts only for a browser signed in as that person.
- login: the personal /me link of every message (LOGIN_VALID).
- once: the console's one-time admin sign-in link; its nonce is spent on use.
- session: the long-lived browser cookie left by a login or an action from email.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from daemon import defaults

PURPOSES = ("done", "progress", "explain")


class BadLink(Exception):
    """A link that does not verify (403) or has expired (410); the message is for people."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ActionClaim:
    person: str
    occurrence: str
    purpose: str
    expires: date
    group: bool


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class Links:
    """Makes and checks the signed parts of URLs under ``public_url``."""

    def __init__(self, secret: bytes, public_url: str):
        self.secret = secret
        self.base = public_url.rstrip("/")
        self._serializers = {
            kind: URLSafeSerializer(secret, salt=f"planbell-{kind}",
                                    signer_kwargs={"digest_method": hashlib.sha256})
            for kind in ("action", "login", "once", "session")
        }

    # -- making --------------------------------------------------------------------------

    def _dump(self, kind: str, payload: list) -> str:
        return self._serializers[kind].dumps(payload)

    def action_token(self, person: str, occurrence: str, purpose: str, due: date, group: bool = False) -> str:
        expires = due + defaults.ACTION_LINK_GRACE
        return self._dump("action", [person, occurrence, purpose, expires.toordinal(), int(group)])

    def action_url(self, person: str, occurrence: str, purpose: str, due: date, group: bool = False) -> str:
        return f"{self.base}/act/{self.action_token(person, occurrence, purpose, due, group)}"

    def login_url(self, person: str, now: datetime) -> str:
        token = self._dump("login", [person, _epoch(now + defaults.LOGIN_LINK_VALID)])
        return f"{self.base}/me?t={quote(token)}"

    def once_url(self, person: str, now: datetime) -> tuple[str, str]:
        """A one-time sign-in link, and its nonce (the caller records it as unspent)."""
        nonce = secrets.token_urlsafe(12)
        token = self._dump("once", [person, _epoch(now + defaults.ONE_TIME_LINK_VALID), nonce])
        return f"{self.base}/signin/{token}", nonce

    def session_cookie(self, person: str, now: datetime) -> str:
        return self._dump("session", [person, _epoch(now + defaults.SESSION_VALID)])

    def csrf(self, binding: str) -> str:
        """A form's CSRF token, bound to who is acting (a session's person, or an action
        token): stateless, so any instance checks it."""
        return hmac.new(self.secret, f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, binding: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(binding), given)

    # -- checking ------------------------------------------------------------------------

    def _load(self, kind: str, token: str, length: int) -> list:
        try:
            payload = self._serializers[kind].loads(token)
        except BadSignature:
            raise BadLink(403, "链接无效:它可能被改动过,或不是本系统发出的。") from None
        if not isinstance(payload, list) or len(payload) != length:
            raise BadLink(403, "链接无效:它可能被改动过,或不是本系统发出的。")
        return payload

    def action(self, token: str, now: datetime) -> ActionClaim:
        person, occurrence, purpose, expires, group = self._load("action", token, 5)
        if purpose not in PURPOSES:
            raise BadLink(403, "链接无效:它可能被改动过,或不是本系统发出的。")
        expires_on = date.fromordinal(expires)
        if now >= datetime.combine(expires_on + timedelta(days=1), time(), UTC):
            raise BadLink(410, f"链接已过期(有效期至 {expires_on.isoformat()})。")
        return ActionClaim(person, occurrence, purpose, expires_on, bool(group))

    def login(self, token: str, now: datetime) -> str:
        person, expires = self._load("login", token, 2)
        if _epoch(now) >= expires:
            raise BadLink(410, "登录链接已过期(有效期 30 天)。")
        return person

    def once(self, token: str, now: datetime) -> tuple[str, str]:
        person, expires, nonce = self._load("once", token, 3)
        if _epoch(now) >= expires:
            raise BadLink(410, "一次性登录链接已过期。")
        return person, nonce

    def session(self, cookie: str | None, now: datetime) -> str | None:
        """The signed-in person, or None (no cookie, a bad one, or an expired one)."""
        if not cookie:
            return None
        try:
            person, expires = self._load("session", cookie, 2)
        except BadLink:
            return None
        return person if _epoch(now) < expires else None
