"""The sandbox run: the bot on a local fake Telegram, the demo campus, and a web chat.

The bot reaches the fake over HTTP exactly as it reaches Telegram; only the base URL differs.
Picking a person in the web chat creates their Telegram user, who opens their invite link
(``/start <token>``) as a real student would, and joins their floor's group chat.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from assistant.bot.context import utc_now
from assistant.config import Settings
from assistant.domain import Role
from assistant.runner import load_demo_campus, run_bot
from assistant.sandbox import FakeTelegram, FakeTelegramServer
from assistant.sandbox.state import FakeChat, FakeUser
from assistant.sandbox.webchat import SandboxPerson, WebChat
from assistant.services import identity
from assistant.storage import repo
from assistant.storage.db import Database

# The picker's sections, in order: the first role a person holds decides theirs.
_SECTIONS: tuple[tuple[Role | None, str], ...] = (
    (Role.COUNSELLOR, "社区辅导员 Counsellors"),
    (Role.WORKSTATION_HEAD, "工作站站长 Workstation heads"),
    (Role.BUILDING_LEADER, "楼长 Building leaders"),
    (Role.BUILDING_MANAGER, "楼管员 Building managers"),
    (Role.FLOOR_LEADER, "层长 Floor leaders"),
    (Role.GRID_PARTY_MEMBER, "网格党员 Grid party members"),
    (Role.DORM_HEAD, "宿舍长 Dorm heads"),
    (Role.COLLEGE_PARTY_LEADER, "学院党组织负责人 College party leaders"),
    (Role.SERVICE_CENTRE, "学生社区服务中心 Service centre"),
    (Role.ORG_DEPARTMENT, "党委组织部 Organisation Department"),
    (Role.LOGISTICS_SECURITY, "后保处 Logistics & Security"),
    (Role.STUDENT_AFFAIRS, "党委学生工作部 Student Affairs"),
    (Role.PUBLICITY, "党委宣传部 Publicity"),
    (Role.YOUTH_LEAGUE, "校团委 Youth League Committee"),
    (Role.SPORTS, "体育部 Sports"),
    (Role.EXPERT, "专家组 Expert panel"),
    (Role.ADMIN, "管理员 Administrators"),
    (None, "学生 Students"),
)
_STATUS = {
    "student": "学生 student",
    "activist": "积极分子 activist",
    "party_member": "党员 party member",
    "teacher": "教师 teacher",
    "staff": "工作人员 staff",
}


class DemoPeople:
    """The web chat's people: everyone on the demo campus, linked on first use."""

    def __init__(self, tg: FakeTelegram, db: Database) -> None:
        self._tg = tg
        self._db = db
        self._users: dict[str, FakeUser] = {}
        self._floor_groups: dict[int, FakeChat] = {}
        self._listings: dict[str, repo.Listing] = {}
        self._lock = asyncio.Lock()

    async def list_people(self) -> list[SandboxPerson]:
        """Everyone on the campus, by section, then by number."""
        async with self._db.unit_of_work() as session:
            found = await repo.listings(session)
        self._listings = {p.number: p for p in found}
        people = [_person(p) for p in found]
        order = {title: i for i, (_, title) in enumerate(_SECTIONS)}
        return sorted(people, key=lambda p: (order[p.group], p.key))

    async def become(self, key: str) -> FakeUser:
        """The Telegram user of person ``key``: created, invited and seated on first call."""
        async with self._lock:
            if key in self._users:
                return self._users[key]
            if not self._listings:
                await self.list_people()
            listing = self._listings.get(key)
            if listing is None:
                raise KeyError(key)
            user = self._tg.add_user(listing.name, language_code="zh-hans")
            async with self._db.unit_of_work() as session:
                _, token = await identity.invite_number(
                    session, key, now=utc_now(), ttl=timedelta(days=1)
                )
            self._users[key] = user
            await self._tg.user_send(user, f"/start {token}")
            if listing.floor_id is not None and listing.building is not None:
                await self._seat(user, listing)
            return user

    async def _seat(self, user: FakeUser, listing: repo.Listing) -> None:
        assert listing.floor_id is not None and listing.building is not None
        group = self._floor_groups.get(listing.floor_id)
        if group is None:
            title = (
                f"{listing.building.zh}{listing.floor}层 · "
                f"{listing.building.en} floor {listing.floor}"
            )
            self._floor_groups[listing.floor_id] = await self._tg.add_group(title, [user])
        else:
            self._tg.add_member(group, user)


def _person(listing: repo.Listing) -> SandboxPerson:
    section = next(title for role, title in _SECTIONS if role is None or role in listing.roles)
    where = (
        f"{listing.building.zh} {listing.room} / {listing.building.en}, room {listing.room}"
        if listing.building is not None
        else "不住校 / off campus"
    )
    return SandboxPerson(
        key=listing.number,
        name=listing.name,
        label=f"{_STATUS[listing.status]} · {where}",
        group=section,
    )


async def run_sandbox(
    settings: Settings, out: TextIO, *, host: str, port: int, web_port: int
) -> None:
    """Run the bot against a fresh sandbox until SIGINT or SIGTERM."""
    database = Path.cwd() / "assistant-sandbox.sqlite3"
    for leftover in database.parent.glob(f"{database.name}*"):
        leftover.unlink()
    db = Database(f"sqlite+aiosqlite:///{database}")
    await load_demo_campus(db, rules_dir=settings.rules_dir)
    tg = FakeTelegram()
    server = FakeTelegramServer(tg)
    webchat = WebChat(tg, DemoPeople(tg, db))
    try:
        url = await webchat.start(host, web_port)
        base = await server.start(host, port)
        print(f"网页聊天 / Web chat: {url}", file=out)
        print(f"Sandbox Bot API: {base}/bot<token>/<method> · demo campus in {database}", file=out)
        out.flush()
        sandboxed = settings.model_copy(
            update={
                "database_url": db.url,
                "telegram_bot_token": tg.token,
                "telegram_api_base_url": server.api_url,
                "telegram_api_file_url": server.file_url,
            }
        )
        await run_bot(sandboxed, out, ready="Press Ctrl+C to stop. 按 Ctrl+C 停止。")
    finally:
        await webchat.stop()
        await server.stop()
        await db.dispose()
