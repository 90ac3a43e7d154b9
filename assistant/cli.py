"""The ``assistant`` command: run the bot, manage the store, import the campus, invite people."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from telegram import Bot

from assistant import directory
from assistant.app import StartupError, load_files
from assistant.bot.context import utc_now
from assistant.config import Settings, SettingsError, load_settings
from assistant.flows.check import mermaid
from assistant.rules import RulesError
from assistant.rules.roles import read_role_rules
from assistant.schedule import firings
from assistant.services import escalation, identity, projects
from assistant.services.duty import HORIZON_WEEKS, Duty
from assistant.storage import inbox, outbox, repo
from assistant.storage.db import Database
from assistant.storage.migrate import upgrade
from assistant.storage.models import AuditEntry, FiringStatus, GridIssue, InboxStatus, OutboxStatus
from assistant.texts import Texts

log = logging.getLogger("assistant")


class CommandError(Exception):
    """A command cannot do what was asked; the message is shown as one line."""


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


async def _migrated(settings: Settings) -> Database:
    db = Database(settings.database_url)
    await upgrade(db)
    return db


async def cmd_db_upgrade(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Apply pending migrations."""
    db = await _migrated(settings)
    await db.dispose()
    print("database is up to date", file=out)


async def cmd_org_import(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Validate a campus file and its CSVs against who may hold which role (rules/roles.yaml),
    then import them in one transaction, with the new menus of the linked people whose roles,
    status or home it changed."""
    try:
        holders = read_role_rules(settings.rules_dir, settings.tz)
    except RulesError as exc:
        for rule_problem in exc.problems:
            print(rule_problem, file=out)
        raise CommandError(f"{len(exc.problems)} problem(s) found; nothing was imported") from None
    try:
        data = directory.load_org(Path(args.file), holders)
    except directory.OrgFileError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        raise CommandError(f"{len(exc.problems)} problem(s) found; nothing was imported") from None
    try:
        menus = load_files(settings, Texts(settings.conversations_dir, campus=settings.tz)).menus
    except StartupError as exc:
        raise CommandError("the rule files have problems; run `assistant check`") from exc
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            report = await directory.import_org(session, data)
            refreshed = await menus.refresh(
                session, report.people_changed, default=settings.language, now=utc_now()
            )
    finally:
        await db.dispose()
    print(report, file=out)
    if refreshed:
        print(f"menus to refresh: {refreshed} (sent by the running bot)", file=out)


async def cmd_org_export(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Write the campus structure, people and roles back out as files."""
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            written = await directory.export_org(session, Path(args.directory))
    finally:
        await db.dispose()
    for path in written:
        print(path, file=out)


async def _bot_username(settings: Settings) -> str:
    if settings.telegram_bot_username:
        return settings.telegram_bot_username
    if not settings.telegram_bot_token:
        raise CommandError(
            "set TELEGRAM_BOT_USERNAME (or TELEGRAM_BOT_TOKEN, to ask Telegram for it)"
        )
    bot = Bot(
        settings.telegram_bot_token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_api_file_url,
    )
    async with bot:
        return bot.username


def _write_invites(path: Path, rows: list[tuple[str, str, str]]) -> None:
    # utf-8-sig so that Excel, which most counsellors open it with, shows the names right.
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "name", "link"])
        writer.writerows(rows)


async def cmd_invite(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Print an invite link for one person, or write one per resident of a building to CSV."""
    if bool(args.number) == bool(args.building):
        raise CommandError("give either a NUMBER or --building CODE")
    if args.building and not args.csv:
        raise CommandError("--building needs --csv FILE to write the links to")
    username = await _bot_username(settings)
    ttl = timedelta(days=settings.invite_ttl_days)
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            now = utc_now()
            if args.number:
                _, token = await identity.invite_number(session, args.number, now=now, ttl=ttl)
                print(identity.invite_link(username, token), file=out)
                return
            invites = await identity.invite_building(session, args.building, now=now, ttl=ttl)
            rows = [(p.number, p.name, identity.invite_link(username, t)) for p, t in invites]
            await asyncio.to_thread(_write_invites, Path(args.csv), rows)
            print(f"{len(invites)} invite(s) written to {args.csv}", file=out)
    except identity.IdentityError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.dispose()


async def cmd_run(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Run the bot against Telegram (or the Bot API server named in the settings)."""
    from assistant.demo import run_sandbox
    from assistant.runner import TokenRefused, run_bot

    if args.webhook:
        settings = settings.model_copy(update={"webhook_url": args.webhook})
    try:
        if settings.telegram_bot_token:
            await run_bot(settings, out)
        else:
            await run_sandbox(settings, out, host=args.host, port=args.port, web_port=args.web_port)
    except StartupError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        raise CommandError(
            "the rule or conversation files have problems; nothing started"
        ) from None
    except TokenRefused as exc:
        raise CommandError(str(exc)) from None


async def cmd_inbox(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Show what the inbox holds and the updates that could not be handled; retry some."""
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            if args.retry:
                retried = await inbox.retry_parked(session, args.retry)
                print(f"{retried} update(s) queued again", file=out)
            counts = await inbox.counts(session)
            parked = await inbox.parked(session)
    finally:
        await db.dispose()
    print(" · ".join(f"{s}: {counts.get(s, 0)}" for s in InboxStatus), file=out)
    for row in parked:
        error = (row.last_error or "").strip().splitlines()[-1:] or [""]
        print(f"parked {row.update_id} chat {row.chat_id} ×{row.attempts}: {error[0]}", file=out)


async def cmd_outbox(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Show what the outbox holds and who could not be reached."""
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            counts = await outbox.counts(session)
            unreachable = await outbox.unreachable(session)
            names = await repo.chat_names(session, [chat for chat, _ in unreachable])
    finally:
        await db.dispose()
    print(" · ".join(f"{s}: {counts.get(s, 0)}" for s in OutboxStatus), file=out)
    for chat_id, error in unreachable:
        print(f"unreachable {chat_id} {names.get(chat_id, '?')}: {error}", file=out)


async def cmd_firings(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Show what the scheduler holds and the firings that failed for good; re-arm some."""
    retry: list[str] = args.retry or []
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            if retry:
                keys = None if retry == ["all"] else retry
                if keys is not None:
                    known = {row.key for row in await firings.failed(session)}
                    unknown = [key for key in keys if key not in known]
                    if unknown:
                        raise CommandError(
                            f"not a failed firing: {', '.join(unknown)} (see `assistant firings`); "
                            "nothing was re-armed"
                        )
                rearmed = await firings.rearm(session, keys, utc_now())
                print(f"{len(rearmed)} firing(s) armed again", file=out)
            counts = await firings.counts(session)
            failed = await firings.failed(session)
    finally:
        await db.dispose()
    print(" · ".join(f"{s}: {counts.get(s, 0)}" for s in FiringStatus), file=out)
    for row in failed:
        error = (row.last_error or "").strip().splitlines()[-1:] or [""]
        due = row.due_at.astimezone(settings.tz).isoformat(sep=" ", timespec="minutes")
        print(f"failed {row.key} ({row.kind}) due {due} ×{row.attempts}: {error[0]}", file=out)


async def cmd_check(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Check every rule and conversation file; list all problems."""
    try:
        files = load_files(settings, Texts(settings.conversations_dir, campus=settings.tz))
    except StartupError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        raise CommandError(f"{len(exc.problems)} problem(s) found") from None
    for gap in files.rules.calendar.gaps():
        print(gap, file=out)
    if files.rules.calendar.yearly_period(projects.CALL) is None:
        print(
            f"{settings.rules_dir.name}/calendar.yaml: warning: no yearly period "
            f"'{projects.CALL}', so the call for community party-building projects never "
            "opens; add it under yearly: with its from: and to: (like 09-01, 12-15)",
            file=out,
        )
    count = len(files.engine.conversations)
    print(f"ok: {count} conversation(s), rules in {settings.rules_dir}", file=out)


async def cmd_graph(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Print a conversation as a Mermaid flowchart."""
    try:
        engine = load_files(settings, Texts(settings.conversations_dir, campus=settings.tz)).engine
    except StartupError as exc:
        raise CommandError("the files have problems; run `assistant check`") from exc
    conversation = engine.conversations.get(args.name)
    if conversation is None:
        known = ", ".join(sorted(engine.conversations))
        raise CommandError(f"no conversation {args.name!r} (known: {known})")
    print(mermaid(conversation), end="", file=out)


async def cmd_explain(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Replay the routing decision of a grid issue report (every rule tried, and why), the
    escalation rule that gives its chain, and each move up it so far: to whom, by which rule,
    and which tiers were skipped and why."""
    try:
        rules = load_files(settings, Texts(settings.conversations_dir, campus=settings.tz)).rules
    except StartupError as exc:
        raise CommandError("the files have problems; run `assistant check`") from exc
    db = await _migrated(settings)
    try:
        async with db.unit_of_work() as session:
            issue = await session.get(GridIssue, args.issue)
            moves = await escalation.moves(session, issue.id, issue.created_at) if issue else []
    finally:
        await db.dispose()
    if issue is None:
        raise CommandError(f"no grid issue #{args.issue}")
    print(f"#{issue.id}: routed by '{issue.routed_by}' to {issue.assignee_role}", file=out)
    if not issue.routing_subject:
        raise CommandError("this report was stored before its facts were kept; nothing to replay")
    decision = rules.route(issue.routing_subject)
    print(decision.explain(settings.language), file=out)
    if decision.rule_id != issue.routed_by:
        print(f"note: today's rules decide by '{decision.rule_id}' instead", file=out)
    zh = settings.language == "zh-CN"
    print("上报链条：" if zh else "escalation chain:", file=out)
    print(rules.chain(issue.routing_subject).explain(settings.language), file=out)
    for move in moves:
        print(_move(move, zh, settings), file=out)


# What a report's move up its chain did, and why a tier was skipped, in each language.
_MOVED = {
    "grid.rerouted": ("提交时直接上移", "sent up at submit"),
    "grid.escalated": ("超时上移", "climbed at its deadline"),
    "grid.reminded": ("超时未上移，已提醒", "stayed at its deadline, reminded"),
}
_SKIPPED = {
    "no_unit": ("校园名册中没有这一级", "the campus files have no such unit here"),
    "vacant": ("没有人担任", "nobody holds it"),
    "unreachable": ("无人能联系上（未绑定或已屏蔽机器人）", "nobody holding it can be reached"),
}


def _move(entry: AuditEntry, zh: bool, settings: Settings) -> str:
    """One move of a report, as ``assistant explain`` shows it."""
    detail = entry.detail
    at = f"{entry.at.astimezone(settings.tz):%Y-%m-%d %H:%M}"
    what = _MOVED[entry.action][0 if zh else 1]
    colon = "：" if zh else ": "
    if entry.action == "grid.reminded":
        line = f"  {at} {what}{colon}{detail.get('role')}"
    else:
        line = f"  {at} {what}{colon}{detail.get('from')} → {detail.get('to')}"
    if detail.get("private"):
        line += "（私密上报只由辅导员处理）" if zh else " (private: it stays with the counsellors)"
    if detail.get("chain"):
        line += f"（链条 '{detail['chain']}'）" if zh else f" (chain '{detail['chain']}')"
    for role, why in detail.get("skipped", []):
        reason = _SKIPPED[why][0 if zh else 1]
        line += f"；跳过 {role}：{reason}" if zh else f"; skipped {role}: {reason}"
    if detail.get("otherwise"):
        line += (
            "；链条上各级都联系不上，交 otherwise 指定的角色"
            if zh
            else "; nobody on the chain above can be reached: the chain's otherwise"
        )
    if detail.get("informed"):
        told = ", ".join(detail["informed"])
        line += f"；告知 {told}" if zh else f"; informed {told}"
    return line


async def _duty(settings: Settings) -> tuple[Duty, Database]:
    texts = Texts(settings.conversations_dir, campus=settings.tz)
    try:
        rules = load_files(settings, texts).rules
    except StartupError as exc:
        raise CommandError("the files have problems; run `assistant check`") from exc
    return Duty(rules, texts, settings.language, settings.tz), await _migrated(settings)


async def cmd_duty_plan(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Plan the coming weeks of duty as the bot does, and print the roster."""
    if not 1 <= args.weeks <= 52:
        raise CommandError("--weeks must be from 1 to 52")
    duty, db = await _duty(settings)
    if args.room is not None and args.room not in duty.rules.duty:
        await db.dispose()
        raise CommandError(
            f"no room {args.room!r} in duty.yaml (known: {', '.join(duty.rules.duty)})"
        )
    now = utc_now()
    try:
        async with db.unit_of_work() as session:
            planned = await duty.plan(session, now, weeks=args.weeks)
            roster = await duty.roster(session, now, now + timedelta(weeks=args.weeks), args.room)
    finally:
        await db.dispose()
    for code in planned.unknown_rooms:
        print(f"{code}: not a room of the campus directory; not planned", file=out)
    for code in planned.empty_pools:
        print(f"{code}: nobody matches its pool; no shifts planned", file=out)
    for shift in roster:
        holder = f"{shift.holder} ({shift.number})" if shift.holder else "-"
        print(
            f"{shift.day} {_WEEKDAYS[shift.weekday]} {shift.start}-{shift.end}  {shift.code:<10} "
            f"{holder:<24} {shift.status}",
            file=out,
        )


async def cmd_duty_fairness(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Hours on duty per person against the average."""
    duty, db = await _duty(settings)
    try:
        async with db.unit_of_work() as session:
            table = await duty.fairness(session)
    finally:
        await db.dispose()
    if not table:
        print("nobody is on a duty roster", file=out)
        return
    average = sum(row.total for row in table) / len(table)
    print(f"average: {average:.1f} h over {len(table)} people", file=out)
    for row in table:
        print(
            f"{row.name} ({row.number}): {row.total:.1f} h ({row.served:.1f} served, "
            f"{row.planned:.1f} planned), {row.total - average:+.1f} h against the average",
            file=out,
        )


_WEEKDAYS = ("", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Handler = Callable[[Settings, argparse.Namespace, TextIO], Coroutine[Any, Any, None]]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with help on every command."""
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Community Assistant (社区助手): the Telegram assistant of the student "
        "living communities. Settings come from the environment or a .env file; see README.md.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the bot",
        description="Run the bot. With TELEGRAM_BOT_TOKEN set it talks to Telegram (or to "
        "TELEGRAM_API_BASE_URL); without it, it starts the built-in sandbox: a local fake "
        "Telegram with the demo campus loaded into a fresh database, and a web chat at "
        "http://127.0.0.1:8080 where you can be any demo resident.",
    )
    run.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates by webhook at this public URL instead of long polling "
        "(listens on ASSISTANT_WEBHOOK_LISTEN; same as ASSISTANT_WEBHOOK_URL)",
    )
    run.add_argument("--host", default="127.0.0.1", help="sandbox address (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8081, help="sandbox Bot API port (default 8081)")
    run.add_argument(
        "--web-port", type=int, default=8080, help="sandbox web chat port (default 8080)"
    )
    run.set_defaults(handler=cmd_run)

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser(
        "upgrade",
        help="apply pending migrations",
        description="Bring the database named by ASSISTANT_DATABASE_URL to the latest schema. "
        "The bot also does this at start.",
    ).set_defaults(handler=cmd_db_upgrade)

    org = commands.add_parser("org", help="import or export the campus directory")
    org_commands = org.add_subparsers(dest="org_command", required=True, metavar="ACTION")
    org_import = org_commands.add_parser(
        "import",
        help="import a campus file (YAML) with its people and roles (CSV)",
        description="Check the YAML file and the CSV files it names; report every problem with "
        "file and line and import nothing if there is any; otherwise update the directory in "
        "one transaction. Importing the same files again changes nothing. Format: "
        "docs/org-files.md.",
    )
    org_import.add_argument("file", help="the campus YAML file, e.g. storage/demo-campus.yaml")
    org_import.set_defaults(handler=cmd_org_import)
    org_export = org_commands.add_parser(
        "export",
        help="write the directory out as campus.yaml, people.csv and roles.csv",
        description="Write the directory as files that `assistant org import` reads back.",
    )
    org_export.add_argument("directory", help="folder to write into (created if missing)")
    org_export.set_defaults(handler=cmd_org_export)

    inbox_parser = commands.add_parser(
        "inbox",
        help="updates received: counts, and those that could not be handled",
        description="Count the stored updates by state and list the parked ones (handling "
        "failed repeatedly) with their errors. --retry queues parked updates again.",
    )
    inbox_parser.add_argument(
        "--retry", type=int, nargs="+", metavar="UPDATE_ID", help="queue these parked updates again"
    )
    inbox_parser.set_defaults(handler=cmd_inbox)
    commands.add_parser(
        "outbox",
        help="messages to send: counts, and recipients who could not be reached",
        description="Count the outgoing messages by state and list the recipients Telegram "
        "refused (they blocked the bot or removed it from the group).",
    ).set_defaults(handler=cmd_outbox)

    firings_parser = commands.add_parser(
        "firings",
        help="scheduled firings: counts, and those that failed for good",
        description="Count the scheduled firings (reminders, escalations, duty prompts, "
        "scheduled broadcasts) by state and list those that failed for good: key, kind, when "
        "it was due (campus time), how often it was tried, and its last error. A firing fails "
        "for good when its handler failed on each of its five tries (1, 2, 4 and 8 minutes "
        "apart) or when no handler knows its kind; the admins are told when it does. --retry "
        "re-arms failed firings once the cause is fixed: each is tried again at once, with "
        "fresh tries.",
    )
    firings_parser.add_argument(
        "--retry",
        nargs="+",
        metavar="KEY",
        help="re-arm these failed firings (their keys as listed), or `all` of them",
    )
    firings_parser.set_defaults(handler=cmd_firings)

    commands.add_parser(
        "check",
        help="check the rule and conversation files",
        description="Load every rule file (ASSISTANT_RULES_DIR) and conversation file "
        "(ASSISTANT_CONVERSATIONS_DIR) as the bot does at start, check their templates in every "
        "language, and print each problem with file, line, rule or step id and a suggestion.",
    ).set_defaults(handler=cmd_check)
    graph = commands.add_parser(
        "graph",
        help="print a conversation as a Mermaid diagram",
        description="Print the steps of a guided conversation as a Mermaid flowchart.",
    )
    graph.add_argument("name", help="the conversation id, e.g. report_issue")
    graph.set_defaults(handler=cmd_graph)

    explain = commands.add_parser(
        "explain",
        help="replay how a grid issue report was routed and how it climbed",
        description="Show every routing rule tried for a grid issue report, in order, with "
        "whether it matched, and the escalation rule that gives its chain, using today's rule "
        "files; then each move up the chain so far: when, from whom to whom, by which rule, and "
        "which tiers were skipped and why.",
    )
    explain.add_argument("issue", type=int, help="the report's number, e.g. 12")
    explain.set_defaults(handler=cmd_explain)

    duty = commands.add_parser("duty", help="the activity rooms' duty rosters (rules/duty.yaml)")
    duty_commands = duty.add_subparsers(dest="duty_command", required=True, metavar="ACTION")
    duty_plan = duty_commands.add_parser(
        "plan",
        help="plan the coming weeks of duty and print the roster",
        description="Plan every room of rules/duty.yaml as the bot does (only shifts that have "
        "not started and that nobody swapped change) and print the roster: date, time, room, "
        "person, status. Rooms unknown to the campus directory, and pools nobody matches, are "
        "named first.",
    )
    duty_plan.add_argument(
        "--weeks", type=int, default=HORIZON_WEEKS, help=f"how many weeks (default {HORIZON_WEEKS})"
    )
    duty_plan.add_argument("--room", metavar="CODE", help="show only this room, e.g. BUS-ACT")
    duty_plan.set_defaults(handler=cmd_duty_plan)
    duty_commands.add_parser(
        "fairness",
        help="hours on duty per person against the average",
        description="For everyone in a pool or with a shift: hours served (work log written) "
        "and planned, and how far that is from the average.",
    ).set_defaults(handler=cmd_duty_fairness)

    invite = commands.add_parser(
        "invite",
        help="make one-time invite links",
        description="Print a one-time invite deep link for a person, or write one per "
        "resident of a building to a CSV file. A link works once and expires after "
        "ASSISTANT_INVITE_TTL_DAYS days.",
    )
    invite.add_argument("number", nargs="?", help="student or staff number")
    invite.add_argument("--building", metavar="CODE", help="every resident of this building")
    invite.add_argument("--csv", metavar="FILE", help="where --building writes its links")
    invite.set_defaults(handler=cmd_invite)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command; exit 0 on success, 1 when it failed, 2 on a bad setting or usage."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    # PTB 22 deprecates integer durations (RetryAfter.retry_after); opt into timedelta ones.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"assistant: bad setting: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        asyncio.run(handler(settings, args, out))
    except CommandError as exc:
        print(f"assistant: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
