"""Answers shared by every page: a rendered template, a problem page people can act on, and
running a unit of work in one transaction off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from daemon.render import render
from daemon.web.auth import bench, signed_in

T = TypeVar("T")

# Pages hold personal duties: never cached by a proxy, never shown from history after sign-out;
# never framed (clickjacking a 销号 button); no referrer carrying a token to another site.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'",
}


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    wb = bench(request)
    if "viewer" not in context:  # (setdefault would check the cookie even when it is given)
        context["viewer"] = signed_in(request)
    viewer = context["viewer"]
    context.setdefault("logout_csrf", wb.links.csrf(f"me:{viewer.id}") if viewer else "")
    html = render(f"web/{template}", today=wb.today(), zone=wb.zone, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def problem(request: Request, status: int, title: str, message: str, **context) -> HTMLResponse:
    """A page that says what went wrong and what to do next — never a traceback."""
    context.setdefault("login", False)  # offer the sign-in page
    context.setdefault("switch", False)  # another person is signed in on this device
    return page(request, "problem.html", status=status, title=title, message=message, **context)


async def in_transaction(request: Request, work: Callable[..., T], *args) -> T:
    """``work(session, *args)`` in one transaction, in a worker thread (the database calls
    block; the event loop keeps serving other requests)."""
    wb = bench(request)

    def run() -> T:
        with wb.sessions.begin() as session:
            return work(session, *args)

    return await run_in_threadpool(run)


async def reading(request: Request, work: Callable[..., T], *args) -> T:
    """``work(session, *args)`` on a read-only session, in a worker thread."""
    wb = bench(request)

    def run() -> T:
        with wb.sessions() as session:
            return work(session, *args)

    return await run_in_threadpool(run)
