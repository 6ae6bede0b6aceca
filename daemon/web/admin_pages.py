"""/admin: the office's console, for people whose roster roles include `admin`.

The year at a glance, what is overdue (催办, 代为销号), what was done (撤销销号), requests not
to do a duty (批准不办理), targets' pace, the 台账 download and the audit trail. Every page is a
GET that changes nothing; every action is a POST with a CSRF token bound to the admin, calls
the function in daemon.actions (which records it in the audit trail as by the admin), and
answers with a redirect back to the page it came from (so a reload does not act again).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from daemon import actions, audit_trail, digest, evidence, ledger_export, year_grid
from daemon.plan.model import Person
from daemon.store.tables import OccurrenceRow
from daemon.web.auth import bench, csrf_for, csrf_ok, signed_in
from daemon.web.context import Workbench
from daemon.web.respond import PAGE_HEADERS, in_transaction, page, problem, reading

# Enough to act on from one screen; the rest is in the grid and the 台账.
OVERDUE_SHOWN = 60
RECENT_SHOWN = 20
AUDIT_PER_PAGE = 100

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _admin(request: Request) -> Person | Response:
    """The signed-in admin, or the answer for everyone else."""
    viewer = signed_in(request)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    if not actions.is_admin(bench(request).schedule(), viewer.id):
        return problem(request, 403, "需要管理员权限", f"{viewer.name} 不是管理员,不能打开管理页面。"
                       "如需处理工作,请打开“我的工作台”;如需管理员权限,请联系名册维护人在名册中加上 admin 角色。")
    return viewer


def _number(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    # isascii: "²" is a digit to str.isdigit but no number to int()
    return int(text) if text.isascii() and text.isdigit() and low <= int(text) <= high else None


def _plan(schedule, year: int):
    return next((p for p in schedule.plans if p.year == year), None)


def _names(schedule) -> dict[str, str]:
    return {p.id: p.name for p in schedule.roster.people}


def _year(request: Request) -> int | None:
    """?year=, this year by default; None for something that is not a year."""
    return _number(request, "year", bench(request).today().year, 2000, 2100)


def _admin_and_year(request: Request) -> tuple[Person, int] | Response:
    viewer = _admin(request)
    if isinstance(viewer, Response):
        return viewer
    year = _year(request)
    if year is None:
        return problem(request, 400, "年度不对", "年度请写四位数字,如 ?year=2026。")
    return viewer, year


def _common(request: Request, viewer: Person, year: int) -> dict:
    wb = bench(request)
    today, zone = wb.today(), wb.zone
    return {"person": viewer, "year": year, "csrf": csrf_for(request, f"admin:{viewer.id}"),
            "names": _names(wb.schedule()), "ok": request.query_params.get("ok", ""),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "state": lambda o: year_grid.state_of(o, today, zone)}


# --- pages -------------------------------------------------------------------------------


def _console(session, schedule, year: int, today, zone) -> dict:
    plan = _plan(schedule, year)
    ledger = digest.year_ledger(session, plan, schedule.roster, today) if plan else None
    rows = ledger.rows if ledger else digest.year_rows(session, year)
    late = year_grid.overdue(rows, today)
    finished = year_grid.recently_finished(rows, RECENT_SHOWN)
    paces = ledger.paces.for_reader(None) if ledger else []
    branches = digest.by_branch(digest.tallies_of(rows, today), schedule.roster) if ledger else []
    return {
        "plan": plan, "grid": year_grid.build_grid(rows, plan.items if plan else {}, year, today, zone),
        "overdue": late[:OVERDUE_SHOWN], "overdue_total": len(late), "finished": finished,
        "files": evidence.files_of(session, [r.id for r in finished]),
        "requests": [(entry, row) for entry, row in actions.open_requests(session) if row.plan_year == year],
        "paces": paces, "branches": branches, "years": ledger_export.ledger_years(session, schedule),
    }


async def console(request: Request) -> Response:
    found = _admin_and_year(request)
    if isinstance(found, Response):
        return found
    viewer, year = found
    wb = bench(request)
    view = await reading(request, _console, wb.schedule(), year, wb.today(), wb.zone)
    return page(request, "admin.html", months=year_grid.MONTHS, **_common(request, viewer, year), **view)


def _cell(session, schedule, year: int, item: int, month: int) -> dict:
    rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.plan_year == year, OccurrenceRow.item == item))
    occurrences = year_grid.in_cell(rows, year, item, month)
    return {"plan": _plan(schedule, year), "occurrences": occurrences,
            "files": evidence.files_of(session, [r.id for r in occurrences])}


async def cell(request: Request) -> Response:
    viewer = _admin(request)
    if isinstance(viewer, Response):
        return viewer
    year, item, month = _year(request), _number(request, "item", None, 1, 999), _number(request, "month", None, 1, 12)
    if year is None or item is None or month is None:
        return problem(request, 400, "地址不完整", "请从全年一览中点选一格(需要 item=条目编号、month=1至12 的月份)。")
    view = await reading(request, _cell, bench(request).schedule(), year, item, month)
    return page(request, "admin_cell.html", item=item, month=month, **_common(request, viewer, year), **view)


async def audit(request: Request) -> Response:
    viewer = _admin(request)
    if isinstance(viewer, Response):
        return viewer
    actor = request.query_params.get("person", "").strip()[:64] or None
    duty = request.query_params.get("duty", "").strip()[:200] or None
    number = _number(request, "page", 1, 1, 10**6) or 1

    def read(session):
        return audit_trail.audit_page(session, actor, duty, number, AUDIT_PER_PAGE), audit_trail.actors(session)

    found, actors = await reading(request, read)

    def page_url(n: int) -> str:
        query = {k: v for k, v in (("person", actor), ("duty", duty)) if v}
        return "/admin/audit?" + urlencode({**query, "page": n})

    return page(request, "admin_audit.html", found=found, actors=actors, actor=actor or "", duty=duty or "",
                page_url=page_url, per_page=AUDIT_PER_PAGE, **_common(request, viewer, bench(request).today().year))


# --- the 台账 download: the CLI's own writer, so the bytes are the CLI's -----------------


def _written(ledger: ledger_export.Ledger, fmt: str) -> dict[str, bytes]:
    """The files `planbell ledger --format FMT` writes (csv: two), by name."""
    with tempfile.TemporaryDirectory(prefix="planbell-ledger-") as folder:
        out = Path(folder) / f"台账{ledger.year}.{fmt}"
        return {path.name: path.read_bytes() for path in ledger_export.write(ledger, fmt, out)}


def _attachment(filename: str, fallback: str) -> dict[str, str]:
    """A download named in Chinese (RFC 6266 filename*), with a plain name for old clients."""
    return {**PAGE_HEADERS, "Content-Disposition": f"attachment; filename=\"{fallback}\"; "
            f"filename*=UTF-8''{quote(filename)}", "Cache-Control": "private, no-store"}


async def _ledger_download(request: Request, fmt: str, targets: bool) -> Response:
    found = _admin_and_year(request)
    if isinstance(found, Response):
        return found
    _admin_person, year = found
    if fmt not in ledger_export.FORMATS:
        return problem(request, 404, "没有这种格式", "台账可下载为 csv、xlsx 或 json。")
    wb = bench(request)
    today, zone, schedule = wb.today(), wb.zone, wb.schedule()

    def build(session):
        if year not in ledger_export.ledger_years(session, schedule):
            return None
        return ledger_export.build(session, schedule, year, today, zone)

    ledger = await reading(request, build)
    if ledger is None:
        return problem(request, 404, "没有这一年的台账", f"没有 {year} 年的日程或台账。")
    files = await run_in_threadpool(_written, ledger, fmt)
    name = f"台账{year}.{fmt}"
    if targets:
        name = ledger_export.targets_csv_path(Path(name)).name
    fallback = f"ledger{year}{'-targets' if targets else ''}.{fmt}"
    return Response(files[name], media_type=CONTENT_TYPES[fmt], headers=_attachment(name, fallback))


async def ledger_file(request: Request) -> Response:
    return await _ledger_download(request, request.path_params["fmt"], targets=False)


async def ledger_targets(request: Request) -> Response:
    return await _ledger_download(request, "csv", targets=True)


# --- actions -----------------------------------------------------------------------------


def _back(form) -> str:
    """Where to return after an action: one of the console's own pages, nothing else (a
    crafted form must not turn the console into a redirector)."""
    back = str(form.get("back") or "")
    if not back.startswith("/admin") or "//" in back or "\\" in back:
        back = "/admin"
    return back


def _done(form, outcome: str) -> RedirectResponse:
    back = _back(form)
    base, _, query = back.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("ok=")]
    return RedirectResponse(f"{base}?{'&'.join([*kept, f'ok={outcome}'])}", status_code=303)


def _posting(step):
    """An action's endpoint: the admin and their form's token checked, then the work ``step``
    names (a function of daemon.actions and its arguments) run in one transaction, and the
    answer a redirect back with ``answer(result)`` as the outcome to show."""

    async def endpoint(request: Request) -> Response:
        viewer = _admin(request)
        if isinstance(viewer, Response):
            return viewer
        form = await request.form(max_files=0, max_fields=10)
        if not csrf_ok(request, f"admin:{viewer.id}", form.get("csrf")):
            return problem(request, 403, "页面已失效", "请刷新管理页面后再操作(本次没有作任何改动)。")
        occurrence = str(form.get("occurrence") or "")
        if not occurrence:
            return problem(request, 400, "没有选定事项", "请从管理页面上的按钮操作。")
        try:
            work, args, answer = step(bench(request), viewer, occurrence, form)
            result = await in_transaction(request, work, *args)
        except actions.ActionRefused as exc:
            return problem(request, exc.status, "未能办理", exc.message)
        return _done(form, answer(result))

    return endpoint


def _nudge(wb: Workbench, admin: Person, occurrence: str, form):
    def answer(sent: list[str]) -> str:
        if sent:
            wb.wake()  # sent now, not at the next sweep
        return "nudged" if sent else "nobody"

    return actions.nudge, (wb.schedule(), occurrence, admin.id, wb.clock()), answer


def _check_off(wb: Workbench, admin: Person, occurrence: str, form):
    on_behalf = str(form.get("on_behalf") or "") or None
    if on_behalf and wb.schedule().roster.person(on_behalf) is None:
        raise actions.ActionRefused(400, "“代谁销号”中的人员不在名册中;请刷新页面后重新选择(本次没有作任何改动)。")
    note = str(form.get("note") or "")[:2000]
    return (actions.check_off_for, (wb.schedule(), occurrence, admin.id, wb.clock(), on_behalf, note),
            lambda outcome: "checked" if outcome.changed else "already")


def _undo(wb: Workbench, admin: Person, occurrence: str, form):
    return actions.undo, (occurrence, admin.id, wb.clock()), lambda outcome: "undone" if outcome.changed else "unchanged"


def _approve_skip(wb: Workbench, admin: Person, occurrence: str, form):
    reason = str(form.get("reason") or "").strip()[:2000] or "管理员批准不办理"
    return actions.approve_skip, (occurrence, admin.id, wb.clock(), reason), lambda outcome: "approved"


ROUTES: list = [
    Route("/admin", console, methods=["GET"]),
    Route("/admin/cell", cell, methods=["GET"]),
    Route("/admin/audit", audit, methods=["GET"]),
    Route("/admin/ledger-targets.csv", ledger_targets, methods=["GET"]),
    Route("/admin/ledger.{fmt}", ledger_file, methods=["GET"]),
    Route("/admin/nudge", _posting(_nudge), methods=["POST"]),
    Route("/admin/check-off", _posting(_check_off), methods=["POST"]),
    Route("/admin/undo", _posting(_undo), methods=["POST"]),
    Route("/admin/approve-skip", _posting(_approve_skip), methods=["POST"]),
]
