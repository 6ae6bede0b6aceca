"""/act/<token>: the page a message's button opens, and the POST that acts.

A GET only shows: mail scanners and link previews open every link. The confirmation form
POSTs back to the same address with a CSRF token bound to the link. A link from email is the
capability (it reached that person's inbox) and leaves the session cookie behind; a link from
a robot's group chat acts only for a browser already signed in as its person.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse

from daemon import actions, defaults, evidence, ledger, progress
from daemon.links import ActionClaim, BadLink
from daemon.plan.model import Person, owner_words
from daemon.web.auth import bench, client, csrf_for, csrf_ok, sign_in, signed_in
from daemon.web.respond import in_transaction, page, problem, reading

# A request larger than the most a check-off may carry (ten files of 20 MB and the form) is
# refused before it is read.
MAX_BODY = defaults.EVIDENCE_MAX_FILES * defaults.EVIDENCE_MAX_BYTES + 1024 * 1024

TITLES = {"done": "确认销号", "progress": "填报进度", "explain": "说明情况 / 申请不办理"}


@dataclass
class Verified:
    claim: ActionClaim
    person: Person
    viewer: Person | None


def _verify(request: Request, token: str) -> Verified | HTMLResponse:
    """The link's claim and its person, or the page that says why it cannot be used."""
    wb = bench(request)
    try:
        claim = wb.links.action(token, wb.clock())
    except BadLink as exc:
        more = "请打开最近一封提醒邮件中的链接,或进入“我的工作台”办理。"
        return problem(request, exc.status, "链接不能使用", f"{exc.reason}{more}", login=True)
    person = wb.schedule().roster.person(claim.person)
    if person is None:
        return problem(request, 403, "链接不能使用", "名册中已没有此链接所属的人员;请联系管理员。")
    viewer = signed_in(request)
    if viewer is not None and viewer.id != person.id:
        return problem(request, 403, "这不是您的链接",
                       f"此链接属于 {person.name},而这台设备登录的是 {viewer.name}。"
                       f"请让 {person.name} 本人办理;如需代为销号,请联系管理员。", switch=True)
    return Verified(claim, person, viewer)


_names: tuple = (None, {})  # (the roster last asked about, its names by id), swapped whole


def names_of(roster) -> dict[str, str]:
    """Names by roster id, built once per roster (a roster is immutable; a reload makes a new
    one): for 300 people it was a twentieth of a web check-off."""
    global _names
    known, names = _names
    if known is not roster:
        names = {p.id: p.name for p in roster.people}
        _names = (roster, names)
    return names


def _state(session, schedule, claim: ActionClaim) -> dict:
    row = ledger.occurrence(session, claim.occurrence)
    if row is None:
        return {"row": None}
    plan = next((p for p in schedule.plans if p.year == row.plan_year), None)
    names = names_of(schedule.roster)
    files = evidence.files_of(session, [row.id]).get(row.id, [])
    state = {
        "row": row, "files": files, "names": names,
        "item_title": plan.items.get(row.item, "") if plan else "",
        "owner_name": owner_words(plan, schedule.roster, row),
        "assignee_names": [names.get(a, a) for a in row.assignees],
        "may_act": actions.may_act(schedule, row, claim.person),
    }
    if row.kind == "report" and plan is not None:
        target = next((t for t in plan.targets if t.id == row.obligation), None)
        if target is not None:
            state["target"] = target
            whose = row.assignees[0] if target.per and row.assignees else None
            period = progress.period_of(target, row.due) if whose else None
            state["total"] = progress.progress_of(session, target.id, row.plan_year, whose, period).total
    return state


async def show(request: Request) -> HTMLResponse:
    token = request.path_params["token"]
    verified = _verify(request, token)
    if isinstance(verified, HTMLResponse):
        return verified
    claim, person = verified.claim, verified.person
    wb = bench(request)
    state = await reading(request, _state, wb.schedule(), claim)
    if state["row"] is None:
        return problem(request, 404, "事项不存在", "这项工作已不在台账中(日程可能已修改);请打开“我的工作台”查看当前事项。", login=True)
    if claim.group and verified.viewer is None:
        # Everyone in the chat sees this link: show whose it is, act for nobody.
        return page(request, "act_group.html", status=200, claim=claim, person=person, **state,
                    csrf=csrf_for(request, f"send:{token}"), token=token)
    return page(request, "act.html", claim=claim, person=person, purpose=claim.purpose,
                heading=TITLES[claim.purpose], csrf=csrf_for(request, token), token=token,
                max_files=defaults.EVIDENCE_MAX_FILES, accepted=evidence.ACCEPTED_WORDS, **state)


async def act(request: Request) -> HTMLResponse:
    token = request.path_params["token"]
    verified = _verify(request, token)
    if isinstance(verified, HTMLResponse):
        return verified
    claim, person = verified.claim, verified.person
    if claim.group and verified.viewer is None:
        return problem(request, 403, "请先登录", f"群聊中的链接只能在 {person.name} 已登录的设备上使用。"
                       "请打开邮件中的“我的工作台”链接登录一次,或在上一页给本人发送登录链接。", login=True)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        return problem(request, 413, "文件太大", f"每个文件不超过 {defaults.EVIDENCE_MAX_BYTES // 1048576} MB,"
                       f"每次最多 {defaults.EVIDENCE_MAX_FILES} 个;本次什么都没有保存,请返回重新选择。")
    try:
        form = await request.form(max_files=defaults.EVIDENCE_MAX_FILES + 1, max_fields=20)
    except Exception:  # a malformed or truncated body: say so, store nothing
        return problem(request, 400, "提交的内容不完整", "表单没有完整送达,本次什么都没有保存;请返回重试。")
    if not csrf_ok(request, token, form.get("csrf")):
        return problem(request, 403, "页面已失效", "请重新打开消息中的链接后再提交(本次没有保存任何内容)。")
    uploads = []
    for upload in form.getlist("files"):
        if hasattr(upload, "read"):
            data = await upload.read(defaults.EVIDENCE_MAX_BYTES + 1)
            uploads.append(evidence.Upload(upload.filename or "", data))
    wb = bench(request)
    schedule, now = wb.schedule(), wb.clock()
    via = {"kind": "link", "channel": "group" if claim.group else "email", **client(request)}
    note = str(form.get("note") or "")[:2000]
    amount, ask_skip = str(form.get("amount") or ""), form.get("ask_skip") == "1"

    def work(session):
        """The action and the page's state after it, in one transaction (one trip to a worker
        thread and one session instead of two: a check-off's largest fixed costs)."""
        if claim.purpose == "done":
            outcome = actions.complete(session, schedule, claim.occurrence, person.id, now, note, uploads, via)
        elif claim.purpose == "progress":
            outcome = actions.report_progress(session, schedule, claim.occurrence, person.id, now, amount, note, via)
        else:
            outcome = actions.explain(session, schedule, claim.occurrence, person.id, now, note, ask_skip, via)
        session.flush()
        return outcome, _state(session, schedule, claim)

    try:
        outcome, state = await in_transaction(request, work)
    except evidence.EvidenceRefused as exc:
        return problem(request, 400, "文件未保存", f"{exc} 本次什么都没有保存(销号也没有记录),请返回重新选择。")
    except actions.ActionRefused as exc:
        return problem(request, exc.status, "未能办理", exc.message)
    response = page(request, "act_done.html", claim=claim, person=person, outcome=outcome,
                    viewer=verified.viewer or person, **state)
    if not claim.group:
        sign_in(response, request, person.id)  # the inbox was proven: remember this device
    return response
