"""Who is asking: the signed session cookie, CSRF tokens, and where a request came from.

No passwords and no server-side sessions: the cookie is a signed (person, expiry) pair that
any instance can check, left by a personal link from email (which proves the inbox).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from daemon import defaults
from daemon.plan.model import Person
from daemon.web.context import Workbench

COOKIE = "planbell_session"


def bench(request: Request) -> Workbench:
    return request.app.state.bench


def signed_in(request: Request) -> Person | None:
    """The person this browser is signed in as, if they are still in the roster."""
    wb = bench(request)
    person_id = wb.links.session(request.cookies.get(COOKIE), wb.clock())
    return wb.schedule().roster.person(person_id) if person_id else None


def sign_in(response: Response, request: Request, person_id: str) -> None:
    wb = bench(request)
    response.set_cookie(COOKIE, wb.links.session_cookie(person_id, wb.clock()),
                        max_age=int(defaults.SESSION_VALID.total_seconds()), httponly=True,
                        samesite="lax", secure=wb.secure_cookies, path="/")


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def csrf_for(request: Request, binding: str) -> str:
    return bench(request).links.csrf(binding)


def csrf_ok(request: Request, binding: str, given: str | None) -> bool:
    return bench(request).links.csrf_ok(binding, given)


def client(request: Request) -> dict:
    """Where a check-off came from, for the others on the duty to see: the address (uvicorn
    puts a trusted proxy's X-Forwarded-For here) and a short description of the device."""
    agent = request.headers.get("user-agent", "")
    return {"ip": request.client.host if request.client else None, "agent": describe_agent(agent)}


def describe_agent(agent: str) -> str:
    """'企业微信 · iPhone' rather than 200 characters of user-agent."""
    app = ("企业微信" if "wxwork" in agent else "微信" if "MicroMessenger" in agent else
           "钉钉" if "DingTalk" in agent else "飞书" if "Lark" in agent or "Feishu" in agent else
           "Edge" if "Edg/" in agent else "Chrome" if "Chrome/" in agent else
           "Firefox" if "Firefox/" in agent else "Safari" if "Safari/" in agent else "浏览器")
    device = ("iPhone" if "iPhone" in agent else "iPad" if "iPad" in agent else "Android" if "Android" in agent
              else "Windows" if "Windows" in agent else "Mac" if "Macintosh" in agent else
              "Linux" if "Linux" in agent else "")
    return f"{app} · {device}" if device else app
