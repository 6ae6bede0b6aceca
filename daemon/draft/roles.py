"""Who owes a clause: organisational roles named in the text, mapped to role ids.

The ids are the ones the bundled schedule uses where the role is the same, so a draft and a
hand-written schedule (and its roster) speak of the same people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (role id, the ways texts name it). Longer names are tried first, so 党组书记 is not 党组.
LEXICON: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("party-group", ("室党组", "局党组", "委党组", "厅党组", "院党组", "党组")),
    ("party-secretary", ("党组书记", "局党组书记", "室党组书记", "委党组书记")),
    ("party-committee", ("局党委", "委党委", "党委")),
    ("organ-party-committee", ("机关党委",)),
    ("committee-secretary", ("党委书记", "机关党委书记", "局党委书记", "委党委书记")),
    ("general-branch", ("党总支",)),
    ("general-branch-secretary", ("党总支书记",)),
    ("leadership", ("班子成员", "领导班子", "党组成员", "党委委员", "班子")),
    ("supervising-leaders", ("分管领导", "分管负责同志", "分管负责人", "分管局领导", "分管校领导")),
    ("principal", ("主要负责同志", "主要负责人", "主要领导")),
    ("discipline-group", ("室纪检组", "局纪检组", "纪检组", "纪检监察组", "派驻纪检监察组")),
    ("discipline-committee", ("机关纪委", "纪委", "纪检委员")),
    ("branch", ("党员大会", "支部党员大会", "机关党支部", "各党支部", "党支部", "各支部", "支部委员会", "支委会", "支委", "支部")),
    ("branch-secretary", ("党支部书记", "支部书记")),
    ("cell-leaders", ("党小组组长", "党小组长")),
    ("cells", ("党小组",)),
    ("section-heads", ("科室负责人", "各科室负责人", "处室负责人", "股室负责人", "科室主要负责人", "各科室主要负责人")),
    ("sections", ("各科室", "各处室", "各股室", "机关各科室")),
    ("units", ("各单位", "局属各单位", "直属各单位", "各部门")),
    ("schools", ("各学校", "各中小学", "各级各类学校", "各校", "学校党组织")),
    ("office", ("办公室", "机关办公室", "党建办", "党办", "综合科")),
    ("personnel", ("组织人事科", "人事科", "人事股", "组织科")),
    ("members", ("全体党员", "党员")),
    ("staff", ("全体干部职工", "全体干部", "干部职工", "机关干部", "党员干部", "干部", "每人")),
    ("youth", ("青年干部", "青年党员", "青年")),
    ("youth-league", ("团支部", "团委", "共青团")),
    ("union", ("工会",)),
    ("women", ("妇委会", "妇联")),
)

# What a schedule declares when the text says nothing narrower, and whom overdue duties
# escalate to: the body that issued the plan, and its secretary.
TOP_BODIES = (
    ("party-group", "party-secretary", "党组书记"),
    ("party-committee", "committee-secretary", "党委书记"),
    ("organ-party-committee", "committee-secretary", "党委书记"),
    ("general-branch", "general-branch-secretary", "党总支书记"),
    ("branch", "branch-secretary", "支部书记"),
)
FALLBACK_BODY = ("leadership", "领导班子", "principal", "主要负责同志")

_NAMES = sorted(((name, role) for role, names in LEXICON for name in names), key=lambda p: -len(p[0]))
_FIXED = re.compile("|".join(re.escape(name) for name, _ in _NAMES))
_ROLE_OF = dict(_NAMES)
# A body set up by the plan itself: 成立党建群团工作联动小组, 组建党员文稿攻坚专班.
_NEW_TEAM = re.compile(r"(?:成立|组建|设立|建立)([\u4e00-\u9fff“”·]{2,14}?(?:专班|工作组|领导小组|小组|突击队))")
_TEAM = re.compile(r"[\u4e00-\u9fff“”·]{2,14}?(?:专班|工作组|领导小组|联动小组)")
# A role right after these is whom the clause acts on, not who acts.
_OBJECT_VERBS = re.compile(r"(?:组织|推动|引导|督促|指导|帮助|邀请|选拔|带领|动员|鼓励|要求|对|向|为|给|联系|表彰|约谈|激励)$")


@dataclass(frozen=True)
class RoleMention:
    start: int
    end: int
    role: str  # role id, or "" for a team the plan names (its id is given later)
    name: str


def mentions(text: str, teams: dict[str, str]) -> list[RoleMention]:
    """Roles named in ``text``, left to right; ``teams`` maps team names already known to ids."""
    found: list[RoleMention] = []
    for team in teams:
        for match in re.finditer(re.escape(team), text):
            found.append(RoleMention(match.start(), match.end(), teams[team], team))
    taken = [(m.start, m.end) for m in found]
    for match in _FIXED.finditer(text):
        if not any(a < match.end() and match.start() < b for a, b in taken):
            found.append(RoleMention(match.start(), match.end(), _ROLE_OF[match.group()], match.group()))
    return sorted(found, key=lambda m: m.start)


def new_teams(text: str) -> list[str]:
    return [m.group(1).strip("“”") for m in _NEW_TEAM.finditer(text) if not _FIXED.fullmatch(m.group(1))]


def subject(clause: str, before: str, clause_at: int, teams: dict[str, str]) -> RoleMention | None:
    """The role that acts in ``clause`` (up to ``clause_at``, the cadence word), else the one
    that opens an earlier clause of the same sentence (``before``)."""
    for match in re.finditer(r"由([^,，、]{2,16}?)(?:负责|牵头|组织|审核|把关|开展|跟踪|统筹|召开|实施|落实)", clause):
        named = mentions(match.group(1), teams)
        if named:
            return named[0]
    for mention in mentions(clause[:clause_at], teams):
        if not _OBJECT_VERBS.search(clause[: mention.start]):
            return mention
    for team in new_teams(before):
        if team in teams:
            return RoleMention(0, 0, teams[team], team)
    for piece in re.split(r"[,，]", before):
        named = mentions(piece[:20], teams)
        if named and named[0].start <= 1 and not _OBJECT_VERBS.search(piece[: named[0].start]):
            return named[0]
    return None


def known_team(text: str) -> list[str]:
    """Team names mentioned without being set up here (党员政策解读专班 in a later sentence)."""
    return [m.group() for m in _TEAM.finditer(text)]
