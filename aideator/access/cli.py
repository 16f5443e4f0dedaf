"""Command-line management: ``flask --app aideator tokens create NAME [--admin]``.

How the first token of a fresh install is made (or set AIDEATOR_ADMIN_TOKEN). Runs against
the configured database, like the service, without starting any run.
"""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..schemas import ValidationFailed, validate
from ..store.models import ApiToken, connection
from . import auth

tokens = AppGroup("tokens", help="Create, list and revoke API tokens.")


@tokens.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May manage tokens and see every run.")
@click.option("--concurrent-runs", type=int, help="Unfinished runs at once (0: no limit).")
@click.option("--runs-per-hour", type=int, help="Runs started per hour (0: no limit).")
@click.option("--max-budget-usd", type=float, help="Budget ceiling per variation (0: none).")
def create(name: str, admin: bool, **limits: int | float | None) -> None:
    """Create a token; it is printed once and never stored."""
    body = {"name": name, "admin": admin,
            "limits": {k: v for k, v in limits.items() if v is not None}}
    try:
        validate(body, "CreateTokenRequest")
    except ValidationFailed as exc:
        raise click.BadParameter(exc.message) from None
    with connection():
        row, token = auth.create_token(name, admin=admin, limits=body["limits"])
    click.echo(f"id: {row.id}\nname: {row.name}\nadmin: {str(row.admin).lower()}")
    click.echo(f"token: {token}")
    click.echo("Keep the token now: it is not stored and cannot be shown again.", err=True)


@tokens.command("list")
def list_() -> None:
    """List tokens (never their secrets)."""
    with connection():
        for row in ApiToken.select().order_by(ApiToken.created_at):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            click.echo(f"{row.id}  {'admin' if row.admin else 'user '}  {state:<24} {row.name}")


@tokens.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token by id: it stops working at once, on every replica."""
    with connection():
        if auth.revoke_token(token_id) is None:
            raise click.ClickException(f"no token with id {token_id!r}")
    click.echo(f"revoked {token_id}")
