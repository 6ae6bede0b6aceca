"""/healthz and /metrics for the operator's monitoring, and the calendar feeds."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from daemon import defaults, feeds
from daemon.web.auth import bench
from daemon.web.respond import reading


async def healthz(request: Request) -> Response:
    health = bench(request).health
    if health is None:
        return JSONResponse({"status": "ok", "scheduler": "not running in this process"})
    status, body = await reading(request, lambda _session: health.healthz())
    return JSONResponse(body, status_code=status)


async def metrics(request: Request) -> Response:
    health = bench(request).health
    if health is None:
        return PlainTextResponse("", status_code=404)
    text = await reading(request, lambda _session: health.metrics())
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


async def calendar(request: Request) -> Response:
    """A person's calendar feed, with an ETag over its bytes (304 when nothing changed)."""
    wb = bench(request)
    token = request.path_params["token"]
    schedule = wb.schedule()

    def build(session):
        person_id = feeds.person_for(session, token)
        return None if person_id is None else feeds.calendar_for(session, schedule, person_id, wb.links)

    data = await reading(request, build)
    if data is None:
        return PlainTextResponse("此日历订阅地址无效或已重置;请在“我的工作台”重新生成。\n", status_code=404)
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={int(defaults.FEED_REFRESH.total_seconds())}"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="text/calendar; charset=utf-8", headers=headers)
