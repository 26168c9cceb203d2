"""`python -m bot directory add|list|import`: manage who is who."""

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable

from bot.config import Settings
from dialogs import directory
from dialogs.procedure import load_procedure


def register(sub) -> None:
    d = sub.add_parser("directory", help="who is who: people, agencies, roles and platform ids")
    commands = d.add_subparsers(dest="directory_command", required=True)

    add = commands.add_parser("add", help="add one person")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--agency", required=True, help="agency id from the procedure file, e.g. police")
    add.add_argument("--role", required=True, help="role id from the procedure file, e.g. police_officer")
    add.add_argument("--email")
    add.add_argument("--slack-id", help="Slack user id, e.g. U0123ABCD")
    add.add_argument("--teams-id", help="Teams user id, e.g. 29:1abc... or the AAD object id")
    add.add_argument("--tenant", default="", help="the workspace / tenant the ids belong to (default: any)")
    add.add_argument("--manager-email", help="email of their manager, already in the directory")
    add.set_defaults(handler=lambda a, s: _run(_add, a, s))

    ls = commands.add_parser("list", help="list everyone")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.set_defaults(handler=lambda a, s: _run(_list, a, s))

    imp = commands.add_parser(
        "import",
        help="add or update everyone in a CSV file (all or nothing)",
        description="Columns: name,email,agency,role,slack_id,teams_id,manager_email (header required; "
        "the last three optional). A person whose email is already in the directory is updated.",
    )
    imp.add_argument("file", help="the CSV file")
    imp.set_defaults(handler=lambda a, s: _run(_import, a, s))


def _run(command: Callable[..., Awaitable[int]], args, settings: Settings) -> int:
    try:
        return asyncio.run(_with_db(command, args, settings))
    except directory.DirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _with_db(command, args, settings: Settings) -> int:
    # Alembic's progress lines would bury the one-line answer an operator is waiting for.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from bot.cli import database
    from storage import migrate

    procedure = load_procedure(settings.procedure_file)
    db = database(settings)
    try:
        await migrate.upgrade(db)  # so the commands work on a fresh database
        async with db.session() as session:
            return await command(session, procedure, args)
    finally:
        await db.dispose()


async def _add(session, procedure, args) -> int:
    identities = []
    if args.slack_id:
        identities.append(("slack", args.slack_id, args.tenant))
    if args.teams_id:
        identities.append(("teams", args.teams_id, args.tenant))
    person = await directory.add_person(
        session,
        procedure,
        name=args.name,
        email=args.email,
        agency=args.agency,
        role=args.role,
        identities=identities,
        manager_email=args.manager_email,
    )
    print(f"added person {person.id}: {person.display_name} ({person.agency}, {person.role})")
    return 0


async def _list(session, procedure, args) -> int:
    people = await directory.list_people(session)
    identities = await directory.identities_by_person(session)
    emails = {p.id: p.email for p in people}
    rows = [
        {
            "id": p.id,
            "name": p.display_name,
            "email": p.email,
            "agency": p.agency,
            "role": p.role,
            "manager_email": emails.get(p.manager_id) if p.manager_id else None,
            "identities": [
                {"platform": i.platform, "external_id": i.external_id, "tenant": i.tenant}
                for i in identities.get(p.id, [])
            ],
        }
        for p in people
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("The directory is empty. Add people with `directory add` or `directory import FILE.csv`.")
        return 0
    table = [
        {
            "ID": str(r["id"]),
            "Name": r["name"],
            "Email": r["email"] or "",
            "Agency": r["agency"],
            "Role": r["role"],
            "Manager": r["manager_email"] or "",
            "Ids": ", ".join(
                f"{i['platform']}:{i['external_id']}" + (f"@{i['tenant']}" if i["tenant"] else "")
                for i in r["identities"]
            ),
        }
        for r in rows
    ]
    widths = {col: max(len(col), *(len(r[col]) for r in table)) for col in table[0]}
    print("  ".join(f"{col:<{w}}" for col, w in widths.items()).rstrip())
    for r in table:
        print("  ".join(f"{r[col]:<{w}}" for col, w in widths.items()).rstrip())
    print(f"{len(rows)} {'person' if len(rows) == 1 else 'people'}")
    return 0


async def _import(session, procedure, args) -> int:
    count = await directory.import_csv(session, procedure, args.file)
    print(f"imported {count} people from {args.file}")
    return 0
