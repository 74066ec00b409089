"""`tessera trust`: what the home's audits trust, set once and used by every `tessera audit`."""
from __future__ import annotations

from pathlib import Path

import click

from flows.cli_common import SetupError, _home, home_config, home_option

__all__ = ["HOME_COMMANDS"]


@click.group()
def trust() -> None:
    """The roots and EKUs this home's audits trust."""


@trust.command("set")
@click.option("--anchors", "anchors", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM bundle of trusted roots (the C2PA trust list format).")
@click.option("--trust-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Allowed EKUs, one OID a line (c2pa trust_config format); default: C2PA's list.")
@home_option
def trust_set(anchors, trust_config, home):
    """Store the trust anchors (and allowed EKUs) every audit of this home uses.

    The files are checked now and referenced by absolute path (not copied): keep them where
    the home's writers cannot change them.

    \b
    Examples:
      tessera trust set --anchors production-root.pem
      tessera trust set --anchors roots.pem --trust-config ekus.cfg --home /srv/tessera
    """
    from dataclasses import replace

    from pipeline.home import HomeError, open_home, write_config
    from provenance import CredentialError, SigningConfig, trust_list

    try:
        folder = open_home(_home(home), create=True)
    except HomeError as exc:
        raise SetupError(str(exc)) from None
    anchors, trust_config = anchors.resolve(), trust_config.resolve() if trust_config else None
    try:
        checked = trust_list(SigningConfig(home=folder, trust_anchors=anchors,
                                           trust_config=trust_config))
    except CredentialError as exc:
        raise SetupError(str(exc)) from None
    path = write_config(folder, replace(home_config(home), trust_anchors=anchors, trust_config=trust_config))
    for anchor in checked.anchors:
        click.echo(f"trusted: {anchor.name}")
    click.echo(f"stored in {path}")


@trust.command("show")
@home_option
def trust_show(home):
    """Print the trust anchors and EKUs this home's audits use.

    \b
    Examples:
      tessera trust show
    """
    from provenance import CredentialError, SigningConfig, trust_list

    config = home_config(home)
    try:
        checked = trust_list(SigningConfig(home=_home(home), trust_anchors=config.trust_anchors,
                                           trust_config=config.trust_config))
    except CredentialError as exc:
        raise SetupError(str(exc)) from None
    for anchor in checked.anchors:
        click.echo(f"{'development root of this home' if anchor.development else 'anchor'}: {anchor.name}")
    click.echo(f"allowed EKUs: {', '.join(checked.ekus) if checked.ekus else 'C2PA default list'}")


HOME_COMMANDS = (trust,)
