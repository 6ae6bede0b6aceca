"""我的工作台 (/me) and the ways in: the personal link, /login, the console's one-time link,
signing out, and each person's evidence files."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import String, and_, cast, func, not_, or_, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from daemon import actions, digest, evidence, feeds, signin
from daemon.compose import purposes
from daemon.links import BadLink
from daemon.store.tables import OccurrenceRow
from daemon.web.auth import bench, client, csrf_for, csrf_ok, sign_in, sign_out, signed_in
from daemon.web.respond import PAGE_HEADERS, in_transaction, page, problem, reading

# Cards of the latest check-offs, and lines of the duties after the next week: the rest are
# counted (the calendar feed and the ledger list them all).
DONE_SHOWN = 30
LATER_SHOWN = 60
# digest.personal's "即将开始": duties opening within this many days.
UPCOMING_WITHIN = timedelta(days=7)


def _assigned_to(person_id: str):
    """SQL narrowing to one person's duties. The assignees are a JSON list whose text holds each
    id in double quotes; ids are slugs, so the match is exact (LIKE's wildcards escaped)."""
    escaped = person_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(OccurrenceRow.assignees, String).like(f'%"{escaped}"%', escape="\\")


def _my_duties(session, schedule, person_id: str, today, year: int) -> dict:
    """The person's open duties in the digest's sections, then the first of the later ones and
    the latest check-offs, each with its total. Only what the page shows is read: a 支部书记 of a
    large office holds thousands of duties a year, and reading them all for every view of /me
    cost most of its time."""
    plan = next((p for p in schedule.plans if p.year == year), None)
    if plan is None:
        return {"plan": None}
    row = OccurrenceRow
    week_end = today + timedelta(days=6 - today.weekday())
    mine_open = (row.plan_year == plan.year, _assigned_to(person_id), row.status == "open")
    # Every row a section can hold is due by the week's end or opens in the coming days: the
    # digest's sections are chosen from those; all the others are "later".
    near_rule = or_(row.due <= week_end, and_(row.opens > today, row.opens <= today + UPCOMING_WITHIN))
    near = list(session.scalars(select(row).where(*mine_open, near_rule)))
    sections = digest.personal(digest.person_ledger(session, plan, schedule.roster, today, person_id, near),
                               person_id, today)
    shown = {r.id for key in ("overdue", "this_week", "upcoming") for r in sections[key]}
    far = (*mine_open, not_(near_rule))
    far_total = session.scalar(select(func.count()).select_from(row).where(*far))
    far_first = session.scalars(select(row).where(*far).order_by(row.due, row.id).limit(LATER_SHOWN))
    later = sorted([r for r in near if r.id not in shown], key=lambda r: r.due)
    later_total = len(later) + far_total
    later = sorted([*later, *far_first], key=lambda r: (r.due, r.id))[:LATER_SHOWN]
    finished = (row.plan_year == plan.year, _assigned_to(person_id), row.status.in_(("done", "skipped")))
    done_total = session.scalar(select(func.count()).select_from(row).where(*finished))
    done = list(session.scalars(select(row).where(*finished).order_by(
        func.coalesce(row.done_at, row.updated_at).desc(), row.id).limit(DONE_SHOWN)))
    files = evidence.files_of(session, [r.id for r in done])
    return {"plan": plan, **sections, "later": later, "later_total": later_total, "done": done,
            "done_total": done_total, "files": files, "names": {p.id: p.name for p in schedule.roster.people},
            "has_feed": feeds.has_feed(session, person_id)}


async def me(request: Request) -> Response:
    wb = bench(request)
    token = request.query_params.get("t")
    if token:
        # The personal link: remember this device, then show /me at an address without the
        # token (so it does not linger in history or get shared by a screenshot of the bar).
        try:
            person_id = wb.links.login(token, wb.clock())
        except BadLink as exc:
            return problem(request, exc.status, "登录链接不能使用", f"{exc.reason}请在下方用邮箱重新获取登录链接。", login=True)
        if wb.schedule().roster.person(person_id) is None:
            return problem(request, 403, "登录链接不能使用", "名册中已没有此链接所属的人员;请联系管理员。")
        response = RedirectResponse("/me", status_code=303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        sign_in(response, request, person_id)
        return response
    viewer = signed_in(request)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    today = wb.today()
    view = await reading(request, _my_duties, wb.schedule(), viewer.id, today, today.year)
    links = wb.links

    def act(o) -> dict[str, str]:
        return {p: links.action_url(viewer.id, o.id, p, o.due) for p in purposes(o.kind)}

    return page(request, "me.html", person=viewer, act=act, csrf=csrf_for(request, f"me:{viewer.id}"),
                is_admin=actions.is_admin(wb.schedule(), viewer.id), **view)


async def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html", csrf=csrf_for(request, "login"))


async def login_send(request: Request) -> HTMLResponse:
    """Mail a sign-in link; the answer is the same whether or not the address is known."""
    form = await request.form(max_files=0, max_fields=5)
    token = str(form.get("token") or "")
    binding = f"send:{token}" if token else "login"
    if not csrf_ok(request, binding, form.get("csrf")):
        return problem(request, 403, "页面已失效", "请刷新页面后再试。", login=True)
    wb = bench(request)
    title = None
    if token:  # "mail me a link" from a group-chat link: the person is the link's
        try:
            claim = wb.links.action(token, wb.clock())
        except BadLink as exc:
            return problem(request, exc.status, "链接不能使用", exc.reason, login=True)
        person = wb.schedule().roster.person(claim.person)
        title = str(form.get("title") or "")[:200] or None
    else:
        person = signin.find_person(wb.schedule().roster, str(form.get("who") or ""))
    if person is not None:
        queued = await in_transaction(request, signin.mail_link, person, wb.clock(), client(request), title)
        if queued:
            wb.wake()
    return page(request, "login_sent.html", named=bool(token), person=person if token else None)


async def signin_page(request: Request) -> HTMLResponse:
    """The console's one-time link: a GET shows a button (a link previewer must not spend it)."""
    wb = bench(request)
    token = request.path_params["token"]
    try:
        person_id, _nonce = wb.links.once(token, wb.clock())
    except BadLink as exc:
        return problem(request, exc.status, "登录链接不能使用", exc.reason, login=True)
    person = wb.schedule().roster.person(person_id)
    if person is None:
        return problem(request, 403, "登录链接不能使用", "名册中已没有此链接所属的人员。")
    return page(request, "signin.html", person=person, csrf=csrf_for(request, f"once:{token}"), token=token)


async def signin_post(request: Request) -> Response:
    wb = bench(request)
    token = request.path_params["token"]
    form = await request.form(max_files=0, max_fields=5)
    if not csrf_ok(request, f"once:{token}", form.get("csrf")):
        return problem(request, 403, "页面已失效", "请重新打开控制台打印的链接。")
    try:
        person_id, nonce = wb.links.once(token, wb.clock())
    except BadLink as exc:
        return problem(request, exc.status, "登录链接不能使用", exc.reason, login=True)
    if not await in_transaction(request, signin.spend_once, nonce, wb.clock()):
        return problem(request, 410, "登录链接已使用过", "一次性登录链接只能用一次;请重启服务获取新的链接,"
                       "或在登录页用邮箱获取登录链接。", login=True)
    response = RedirectResponse("/admin" if actions.is_admin(wb.schedule(), person_id) else "/me", status_code=303)
    sign_in(response, request, person_id)
    return response


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    viewer = signed_in(request)
    if viewer is not None and not csrf_ok(request, f"me:{viewer.id}", form.get("csrf")):
        return problem(request, 403, "页面已失效", "请刷新页面后再试。")
    response = RedirectResponse("/login", status_code=303)
    sign_out(response)
    return response


async def feed_reset(request: Request) -> HTMLResponse:
    """A new calendar subscription address (the old one stops working); shown once."""
    viewer = signed_in(request)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    form = await request.form(max_files=0, max_fields=5)
    if not csrf_ok(request, f"me:{viewer.id}", form.get("csrf")):
        return problem(request, 403, "页面已失效", "请刷新页面后再试。")
    wb = bench(request)
    token = await in_transaction(request, feeds.reset, viewer.id, wb.clock())
    url = feeds.feed_url(wb.links.base, token)
    return page(request, "feed.html", person=viewer, url=url, webcal=url.replace("http", "webcal", 1).replace("webcals", "webcal"))


async def evidence_file(request: Request) -> Response:
    """An evidence file, only to the duty's people, its escalation role, and admins; always as
    a download with a safe name (never rendered inline: a crafted PDF or image stays inert)."""
    viewer = signed_in(request)
    if viewer is None:
        return problem(request, 403, "请先登录", "佐证材料只对该项工作的责任人和管理员开放;请先登录。", login=True)
    try:
        evidence_id = int(request.path_params["evidence_id"])
    except ValueError:
        return problem(request, 404, "文件不存在", "没有这个文件。")
    wb = bench(request)
    schedule = wb.schedule()

    def fetch(session):
        found = evidence.blob(session, evidence_id)
        if found is None:
            return None
        row, blob = found
        occurrence = session.get(OccurrenceRow, row.occurrence)
        allowed = occurrence is not None and actions.may_act(schedule, occurrence, viewer.id)
        return (row.filename, blob.content_type, blob.data) if allowed else False

    found = await reading(request, fetch)
    if found is None:
        return problem(request, 404, "文件不存在", "没有这个文件。")
    if found is False:
        return problem(request, 403, "无权查看", "佐证材料只对该项工作的责任人和管理员开放。")
    filename, content_type, data = found
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    headers = {**PAGE_HEADERS, "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
               f"filename*=UTF-8''{quote(filename)}", "Cache-Control": "private, no-store"}
    return Response(data, media_type=content_type, headers=headers)
