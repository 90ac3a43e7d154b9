"""Commands whose answers name people or what they confided (talks, Star reasons, minutes, one's
own sign-ups and bookings) and guided conversations answer in a group only with "use this in
your private chat with me", and show nothing else there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from assistant.app import Edge
from assistant.sandbox import FakeTelegram
from tests.bot.conftest import Chat
from tests.bot.test_identity import linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

C1_COUNSELLOR = "T0005"
PRIVATE_ONLY = "请在与我的私聊中使用这个功能。"
COMMANDS = (
    "/talks",
    "/stars",
    "/meetings",
    "/myactivities",
    "/activities",
    "/bookings",
    "/report",
    "/offertalk",
)


async def test_private_answers_are_never_given_in_a_group(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR)
    group = await tg.add_group("C1 counsellors", [counsellor.user])
    await tg.wait_for_bot_message(group.id)
    for command in COMMANDS:
        assert await counsellor.say(command, group.id) == PRIVATE_ONLY, command
    # One answer each, and all of them the same words.
    said = [m.text for m in tg.messages(group.id) if m.sender.id == tg.state.bot.id][1:]
    assert said == [PRIVATE_ONLY] * len(COMMANDS)
