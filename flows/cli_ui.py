"""`tessera ui`: the browser workspace (ui/), and its reviewer accounts."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from flows.cli_common import SetupError, _home, _settings, home_option, ledger_option, open_workspace


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --tls-cert and --tls-key.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), help="PEM certificate chain for HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="PEM private key for HTTPS.")
@click.option("--idle-minutes", default=30, show_default=True, type=click.IntRange(1, 24 * 60),
              help="A session ends after this long without a request (and 8 hours after login in any case).")
@home_option
@ledger_option
@click.pass_context
def ui(ctx, host, port, tls_cert, tls_key, idle_minutes, home, ledger):
    """Serve the review workspace in a browser: every take of a product playable side by side (pick or
    reject with a reason, keyboard shortcuts, compare two full size), and the variants held for review,
    filterable by SKU, locale, aspect and reason (approve or reject a selection with a reason).

    Reviewers log in with accounts made by `tessera ui users add`; each decision is journalled under the
    account, at its time, through the same core as `tessera review`.

    \b
    Examples:
      tessera ui users add "Mei Chen"
      tessera ui                                   # http://127.0.0.1:8765
      tessera ui --host 0.0.0.0 --port 8443 --tls-cert cert.pem --tls-key key.pem
    """
    if ctx.invoked_subcommand is not None:
        return
    from ui.serve import BindError, check_bind, serve

    try:
        check_bind(host, tls_cert, tls_key)
        ws = open_workspace(_settings(home, ledger))
        serve(ws, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, idle_minutes=idle_minutes,
              announce=click.echo)
    except BindError as exc:
        raise SetupError(str(exc)) from None


@ui.group()
def users() -> None:
    """Reviewer accounts of the workspace, kept in the Tessera home (passwords hashed with scrypt).

    \b
    Examples:
      tessera ui users add "Mei Chen"
      printf '%s\\n' "$PASSWORD" | tessera ui users add ana
      tessera ui users list
      tessera ui users remove ana
    """


@users.command("add")
@click.argument("name")
@home_option
def users_add(name, home):
    """Add the reviewer NAME; the password is asked twice on a terminal, else read from the first line of
    standard input. The journal records NAME's decisions under this name.

    \b
    Examples:
      tessera ui users add "Mei Chen"
      printf '%s\\n' "$PASSWORD" | tessera ui users add ana --home /var/lib/tessera
    """
    from ui.accounts import UserError, Users

    if sys.stdin.isatty():
        password = click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        account = Users(_home(home)).add(name, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added reviewer {account.name}")


@users.command("list")
@home_option
def users_list(home):
    """List the reviewer accounts and when each was added.

    \b
    Examples:
      tessera ui users list
    """
    from ui.accounts import UserError, Users

    try:
        accounts = Users(_home(home)).names()
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    for account in accounts:
        click.echo(f"{account.name}  added {account.created_at}")
    click.echo(f"{len(accounts)} reviewer accounts")


@users.command("remove")
@click.argument("name")
@home_option
def users_remove(name, home):
    """Remove the reviewer NAME (the journal keeps their decisions; live sessions end with the server).

    \b
    Examples:
      tessera ui users remove ana
    """
    from ui.accounts import UserError, Users

    try:
        Users(_home(home)).remove(name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed reviewer {name}")
