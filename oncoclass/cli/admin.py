"""Operating the service: API keys (``oncoclass keys``) and retention (``oncoclass history``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from oncoclass.cli.common import app, fail, out
from oncoclass.errors import InvalidInputError, OncoClassError
from oncoclass.settings import get_settings

keys_app = typer.Typer(
    help="API keys: required when the server listens beyond loopback.", no_args_is_help=True
)
history_app = typer.Typer(help="The prediction history: retention.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(history_app, name="history")


def _database():  # noqa: ANN202 (oncoclass.history.Database, imported lazily)
    from oncoclass.history import Database

    database = Database(get_settings().resolved_database_url)
    database.migrate()
    return database


def _key_store():  # noqa: ANN202
    from oncoclass.auth import KeyStore

    return KeyStore(_database())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'lims'.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="predict, history or admin (repeatable)."),
    ] = None,
    rate: Annotated[int | None, typer.Option(help="Requests a minute (default: settings).")] = None,
) -> None:
    """Create a key and print it once (only its hash is stored). Last line: the key alone."""
    try:
        key, secret = _key_store().create(name, scope or ["predict"], rate)
    except OncoClassError as exc:
        fail(exc)
    out.print(Text(f"key {key.name} (id {key.id}, prefix {key.prefix}), scopes: "
                   f"{', '.join(key.scopes)}; store it now, it is not shown again:"))  # fmt: skip
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: name, prefix, scopes, rate limit, state (never the secrets)."""
    try:
        keys = _key_store().list()
    except OncoClassError as exc:
        fail(exc)
    table = Table("id", "name", "prefix", "scopes", "per minute", "created", "state")
    for k in keys:
        table.add_row(
            str(k.id), Text(k.name), k.prefix, ", ".join(k.scopes),
            str(k.rate_per_minute or "default"), k.created_at,
            "revoked" if k.revoked else "active",
        )  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(name_or_id: Annotated[str, typer.Argument(help="Name, id or prefix.")]) -> None:
    """Revoke a key: every replica refuses it within seconds."""
    try:
        key = _key_store().revoke(name_or_id)
    except OncoClassError as exc:
        fail(exc)
    out.print(Text(f"revoked key {key.name} (id {key.id}, prefix {key.prefix})"))


_AGE = re.compile(r"(\d+)\s*([dhw])")


def parse_age(value: str) -> timedelta:
    """ "90d", "12h", "2w" as a duration."""
    match = _AGE.fullmatch(value.strip().lower())
    if not match:
        raise InvalidInputError(f"not an age: {value!r} (e.g. 90d, 12h, 2w)", field="older_than")
    n, unit = int(match[1]), match[2]
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]


@history_app.command("purge")
def history_purge(
    older_than: Annotated[str, typer.Option(help="Delete predictions older than this: 90d.")],
    dry_run: Annotated[bool, typer.Option(help="Count only.")] = False,
) -> None:
    """Delete stored predictions older than a given age (a retention policy)."""
    from oncoclass.history import PredictionRepository

    try:
        cutoff = datetime.now(UTC) - parse_age(older_than)
        database = _database()
        with database.session() as session:
            n = PredictionRepository(session).purge(cutoff, dry_run=dry_run)
    except OncoClassError as exc:
        fail(exc)
    verb = "would delete" if dry_run else "deleted"
    out.print(Text(f"{verb} {n:,} prediction(s) made before {cutoff:%Y-%m-%d %H:%M} UTC"))
