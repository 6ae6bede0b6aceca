"""The whole schedule the daemon runs: every plan file of the schedules folder and the roster."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon import defaults
from daemon.plan.errors import ErrorList, ScheduleError, ScheduleInvalid
from daemon.plan.model import Plan, Roster


@dataclass(frozen=True)
class Schedule:
    plans: tuple[Plan, ...]
    roster: Roster
    version: str  # a digest of the files' bytes: tells which edit is running
    warnings: tuple[ScheduleError, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        """The zone every rule of the schedule is read in: its first plan's, else the default."""
        return ZoneInfo(self.plans[0].timezone if self.plans else defaults.TIMEZONE)

    def roles(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for plan in self.plans:
            out.update(plan.roles)
        return out


def is_roster_file(path: Path) -> bool:
    return path.name.startswith("roster")


def plan_files(paths: list[Path], roster: Path | None = None) -> list[Path]:
    """Plan files named by ``paths`` (files, or folders searched for *.yaml / *.yml); the
    configured ``roster`` is never one, whatever its name (PLANBELL_ROSTER=schedules/people.yaml)."""
    out: list[Path] = []
    skip = _same_file(roster) if roster is not None else None
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            out.extend(p for p in found if not is_roster_file(p) and _same_file(p) != skip)
        else:
            out.append(path)
    return out


def _same_file(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def resolve_roster(path: Path) -> Path:
    """The configured roster, or the committed example while no real one exists yet."""
    if not path.exists():
        example = path.with_name("roster.example.yaml")
        if example.exists():
            return example
    return path


def load_schedule(schedules: Path, roster_path: Path) -> Schedule:
    """Every plan and the roster, or ScheduleInvalid with every error of every file."""
    # Imported here: a command acting on the stored schedule never parses YAML.
    from daemon.plan.loader import load_plan_file
    from daemon.plan.roster import load_roster

    errors: list[ScheduleError] = []
    warnings: list[ScheduleError] = []
    plans: list[Plan] = []
    files = plan_files([schedules], roster_path)
    if not files:
        errors.append(ScheduleError(str(schedules), 1, "", "这里没有日程文件(*.yaml);请检查 PLANBELL_SCHEDULES"))
    for file in files:
        try:
            plan, file_warnings = load_plan_file(file)
            plans.append(plan)
            warnings.extend(file_warnings)
        except ScheduleInvalid as exc:
            errors.extend(exc.errors)
    errors.extend(cross_plan_errors(plans))
    roles: dict[str, str] = {}
    for plan in plans:
        roles.update(plan.roles)
    roster = Roster()
    roster_file = resolve_roster(roster_path)
    try:
        roster = load_roster(roster_file, roles if plans else None)
    except ScheduleInvalid as exc:
        errors.extend(exc.errors)
    if errors:
        raise ScheduleInvalid(errors, warnings)
    if roster_file != roster_path:
        warnings.append(ScheduleError(str(roster_path), 1, "", f"找不到名册,暂用示例名册 {roster_file}(虚构人员);请复制为 {roster_path.name} 并填入真实人员"))
    errors.extend(branch_errors(plans, roster))
    if errors:
        raise ScheduleInvalid(errors, warnings)
    warnings.extend(unstaffed_roles(plans, roster))
    return Schedule(tuple(plans), roster, version_of([*files, roster_file]), tuple(warnings))


def cross_plan_errors(plans: list[Plan]) -> list[ScheduleError]:
    """Two plans of the same year may not reuse an id: occurrence ids would collide."""
    seen: dict[tuple[int, str], Plan] = {}
    out = []
    for plan in plans:
        for duty in (*plan.obligations, *plan.targets):
            key = (plan.year, duty.id)
            if key in seen and seen[key] is not plan:
                out.append(ScheduleError(plan.file, duty.line, "id", f"'{duty.id}' 已在 {seen[key].file} 中用过(同一年度);请换一个 id"))
            seen.setdefault(key, plan)
    return out


def branch_errors(plans: list[Plan], roster: Roster) -> list[ScheduleError]:
    """What the plan asks of the roster's branches and holders: a role one per branch held by
    two in one branch; a branch-scoped role held by someone in no branch; `each` of a role
    nobody holds (no one would have a duty of their own)."""
    out: list[ScheduleError] = []
    people = ErrorList(roster.file)
    singles = {role: plan for plan in plans for role in plan.single_roles}
    scoped = {role: plan for plan in plans for role in plan.branch_roles}
    for role, plan in singles.items():
        first: dict[str | None, object] = {}
        for person in roster.with_role(role):
            other = first.setdefault(person.branch, person)
            if other is not person:
                name = plan.role_name(role)
                if person.branch is None:
                    fix = "有几个支部,就在名册开头写 branches: 列出它们,并给每人写 branch(所在支部)"
                    people.add(person.line, f"{person.id}.roles", f"名册没有分支部,却有两名{name}(另一位是第 {other.line} 行的 {other.name});{fix}")
                else:
                    people.add(person.line, f"{person.id}.roles", f"{roster.branch_name(person.branch)}已有{name} {other.name}(第 {other.line} 行);"
                                                                 f"每个支部只设一名{name}(日程 roles 中 {role} 写了 one: true),请核对此人的 branch 或角色")
    if roster.branched:
        for person in roster.people:
            held = [r for r in person.roles if r in scoped]
            if held and person.branch is None:
                people.add(person.line, f"{person.id}.branch", f"{person.name}担任{scoped[held[0]].role_name(held[0])}(支部内的角色),"
                                                               f"请写明所在支部,如 branch: {next(iter(roster.branches))}")
    out.extend(people.errors)
    for plan in plans:
        errors = ErrorList(plan.file)
        for ob in plan.obligations:
            if ob.each and not roster.with_role(ob.owner):
                errors.add(ob.line, f"{ob.id}.each", f"each: true 要求每位“{plan.role_name(ob.owner)}”各办一项,但名册中没有人担任"
                                                     f"{plan.role_name(ob.owner)}({ob.owner});请在名册中指定,或删去 each")
        out.extend(errors.errors)
    return out


def unstaffed_roles(plans: list[Plan], roster: Roster) -> list[ScheduleError]:
    """Roles that duties are owed by but nobody holds: nobody would be reminded."""
    out = []
    for plan in plans:
        errors = ErrorList(plan.file)
        for duty in (*plan.obligations, *plan.targets):
            if not roster.with_role(duty.owner):
                errors.warn(duty.line, f"{duty.id}.owner", f"名册中没有人担任 '{plan.role_name(duty.owner)}'({duty.owner}),没有人会收到提醒")
        out.extend(errors.warnings)
    return out


def version_of(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(str(file).encode())
        try:
            digest.update(file.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:12]
