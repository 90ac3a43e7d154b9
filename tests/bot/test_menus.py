"""Menus and /help list what each person may do, as the access rules say, and follow changes:
a link, /lang, and an import that changes someone's roles or takes them off the roster."""

from __future__ import annotations

import argparse
import io
import shutil
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from assistant.app import AssistantApp
from assistant.bot.context import utc_now
from assistant.cli import cmd_org_import
from assistant.runner import DEMO_CAMPUS
from assistant.sandbox import FakeTelegram
from tests.bot.conftest import Chat, Clock
from tests.bot.test_identity import C1_COUNSELLOR, STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

DORM_HEAD = "2024010001"  # 肖伟, dorm head of B1-101, a student
SERVICE_CENTRE = "T0019"

ZH, EN = "zh-hans", "en"
# What each command says of itself in the menu, in each language (templates command_<name>).
DESCRIBED = {
    ZH: {
        "nominate": "提名每月之星",
        "pending": "待我审批和处理的事项",
        "apply": "申报社区党建课题",
    },
    EN: {
        "nominate": "Nominate the Star of the Month",
        "pending": "What waits for me to decide",
        "apply": "Apply for a community party-building project",
    },
}
# The refusals of what is left out, in each language.
NOT_APPLYING = {
    ZH: "社区党建课题由各学院的教师、学生党员和入党积极分子，"
    "以及社区辅导员和社区党建工作站站长申报。",
    EN: "Community party-building projects are applied for by a college's teachers, student party "
    "members and party activists, and by counsellors and workstation heads.",
}
NOT_NOMINATING = {
    ZH: "“每月之星”由学生、入党积极分子和学生党员提名。",
    EN: "The Star of the Month is nominated by students, party activists and student party "
    "members.",
}
NOT_PICKING = {ZH: "您没有进行此操作的权限。", EN: "You are not allowed to do this."}
HELP_PENDING = {ZH: "/pending — 待我审批和处理的事项", EN: "/pending — what waits for me to decide"}


def menu(tg: FakeTelegram, chat: Chat) -> dict[str, str]:
    """The commands ``chat``'s person sees in their private chat, with their descriptions."""
    return {c["command"]: c["description"] for c in tg.visible_commands(chat.user)}


async def menu_of(tg: FakeTelegram, chat: Chat, *, holding: str) -> dict[str, str]:
    """Their menu once it lists ``holding`` (the bot queues it beside its answer)."""
    await tg.wait_until(lambda: holding in menu(tg, chat))
    return menu(tg, chat)


def listed(help_text: str) -> set[str]:
    """The commands /help offers, each at the start of a line."""
    return {line.split()[0][1:] for line in help_text.splitlines() if line.startswith("/")}


@pytest.mark.parametrize("language", [ZH, EN])
async def test_menus_and_help_list_only_what_the_access_rules_let_each_person_do(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram, language: str
) -> None:
    dorm_head = await linked(person, invite, DORM_HEAD, language=language)
    counsellor = await linked(person, invite, C1_COUNSELLOR, language=language)
    centre = await linked(person, invite, SERVICE_CENTRE, language=language)

    # A dorm head is a student: they nominate, ask their community's Red Service Team for help,
    # and reports of their room wait for them; they book talks, and see who is on duty, but take
    # no turn on duty themselves.
    head_menu = await menu_of(tg, dorm_head, holding="pending")
    assert list(head_menu) == [
        *("report", "service", "book", "bookings", "nominate", "mine", "pending"),
        *("myactivities", "onduty", "talk", "talks"),
        *("me", "leaders", "lang", "cancel", "help"),
    ]
    assert head_menu["nominate"] == DESCRIBED[language]["nominate"]
    assert head_menu["pending"] == DESCRIBED[language]["pending"]
    head_help = await dorm_head.say("/help")
    # /help explains everything its menu lists (but itself), and no more.
    assert listed(head_help) == set(head_menu) - {"help"}
    assert HELP_PENDING[language] in head_help
    # What the menu leaves out is what the rules refuse.
    assert await dorm_head.say("/apply") == NOT_APPLYING[language]
    assert await dorm_head.say("/stars") == NOT_PICKING[language]

    # A counsellor applies, broadcasts and decides, but nominates no Star and picks none; living
    # in no community, they ask no Red Service Team for help; this one also heads a building
    # sub-station, whose meetings they call and minute; a teacher, they take turns on duty, and
    # they give talks and invite students to them; holding the badge ceremony, they read the
    # year's activity plan.
    counsellor_menu = await menu_of(tg, counsellor, holding="apply")
    assert list(counsellor_menu) == [
        *("report", "book", "bookings", "mine", "pending", "apply", "results", "broadcast"),
        *("activity", "myactivities", "activities", "meeting", "minutes", "duty", "onduty"),
        "talks",
        *("offertalk", "invitetalk", "me", "leaders", "lang", "cancel", "help"),
    ]
    assert counsellor_menu["apply"] == DESCRIBED[language]["apply"]
    counsellor_help = await counsellor.say("/help")
    assert listed(counsellor_help) == set(counsellor_menu) - {"help"} | {"bind"}
    assert await counsellor.say("/nominate") == NOT_NOMINATING[language]
    assert await counsellor.say("/stars") == NOT_PICKING[language]

    # The Service Centre picks the Star; nothing of the floors waits for it.
    centre_menu = await menu_of(tg, centre, holding="stars")
    assert "stars" in centre_menu and "pending" not in centre_menu
    assert "nominate" not in centre_menu and "apply" not in centre_menu
    assert listed(await centre.say("/help")) == set(centre_menu) - {"help"}


async def test_an_import_that_changes_roles_or_the_roster_refreshes_their_menus(
    bot: AssistantApp,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    tmp_path: Path,
) -> None:
    student = await linked(person, invite, STUDENT, language=EN)
    counsellor = await linked(person, invite, C1_COUNSELLOR, language=ZH)
    leaving = await linked(person, invite, DORM_HEAD, language=EN)
    assert "pending" not in await menu_of(tg, student, holding="help")
    assert "apply" in await menu_of(tg, counsellor, holding="apply")
    assert "pending" in await menu_of(tg, leaving, holding="pending")

    # The next roster: the dorm head has left and the student takes their place, and the
    # counsellor is one no more.
    campus = tmp_path / "campus"
    shutil.copytree(DEMO_CAMPUS.parent, campus, ignore=shutil.ignore_patterns("migrations"))
    roles = (campus / "roles.csv").read_text(encoding="utf-8").splitlines()
    roles = [line for line in roles if not line.startswith(f"{C1_COUNSELLOR},")]
    roles.append(f"{STUDENT},dorm_head,room:B1-101")
    (campus / "roles.csv").write_text("\n".join(roles) + "\n", encoding="utf-8")
    people = (campus / "people.csv").read_text(encoding="utf-8").splitlines()
    people = [line for line in people if not line.startswith(f"{DORM_HEAD},")]
    (campus / "people.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    roles = [line for line in roles if not line.startswith(f"{DORM_HEAD},")]
    (campus / "roles.csv").write_text("\n".join(roles) + "\n", encoding="utf-8")

    out = io.StringIO()
    settings = bot.bot_data["deps"].settings
    await cmd_org_import(settings, argparse.Namespace(file=str(campus / DEMO_CAMPUS.name)), out)
    # The command runs on the real clock; the bot's catches up with it.
    clock.advance(utc_now() - clock() + timedelta(seconds=1))

    # The running bot sends them: nobody has to write to it first.
    assert (await menu_of(tg, student, holding="pending"))["pending"] == (
        "What waits for me to decide"
    )
    await tg.wait_until(lambda: "broadcast" not in menu(tg, counsellor))
    assert menu(tg, counsellor)["mine"] == "我的事项及进度"
    # Still a teacher of the college: they may still apply for a project.
    assert "apply" in menu(tg, counsellor)
    assert "pending" not in menu(tg, counsellor)
    await tg.wait_until(lambda: list(menu(tg, leaving)) == ["start", "help"])
    assert "/pending" in await student.say("/help")
    assert "menus to refresh: 3" in out.getvalue()
