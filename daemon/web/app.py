"""The workbench (工作台): every route in one place, the app made by a factory.

Stateless between requests (signed links and cookies, everything else in the database), so
several instances behind a reverse proxy serve any request. Every asset is served from here:
offices run on intranets without CDNs.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from daemon.web import action_pages, admin_pages, me_pages, ops_pages
from daemon.web.auth import signed_in
from daemon.web.context import Workbench
from daemon.web.respond import problem

log = logging.getLogger("planbell.web")


async def home(request: Request) -> Response:
    return RedirectResponse("/me" if signed_in(request) else "/login", status_code=303)


ROUTES = [
    Route("/", home),
    Route("/act/{token}", action_pages.show, methods=["GET"]),
    Route("/act/{token}", action_pages.act, methods=["POST"]),
    Route("/me", me_pages.me),
    Route("/me/feed", me_pages.feed_reset, methods=["POST"]),
    Route("/login", me_pages.login_form, methods=["GET"]),
    Route("/login", me_pages.login_send, methods=["POST"]),
    Route("/signin/{token}", me_pages.signin_page, methods=["GET"]),
    Route("/signin/{token}", me_pages.signin_post, methods=["POST"]),
    Route("/logout", me_pages.logout, methods=["POST"]),
    Route("/evidence/{evidence_id}", me_pages.evidence_file),
    Route("/calendar/{token}.ics", ops_pages.calendar),
    *admin_pages.ROUTES,
    Route("/healthz", ops_pages.healthz),
    Route("/metrics", ops_pages.metrics),
]


async def not_found(request: Request, exc) -> Response:
    return problem(request, 404, "页面不存在", "没有这个页面;请从消息中的链接或“我的工作台”进入。", login=True)


async def server_error(request: Request, exc) -> Response:
    # Logged for the operator with the traceback; the person sees a sentence, never a stack.
    log.error("web request %s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "出错了", "系统暂时无法完成这个操作,没有保存任何内容;请稍后重试,或联系管理员。")


async def method_not_allowed(request: Request, exc) -> Response:
    return problem(request, 405, "不支持的操作", "请从页面上的按钮提交。")


def create_app(bench: Workbench) -> Starlette:
    app = Starlette(routes=ROUTES, exception_handlers={404: not_found, 405: method_not_allowed,
                                                        500: server_error})
    app.state.bench = bench
    return app
