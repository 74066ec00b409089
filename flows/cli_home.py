"""`tessera trust`, `tessera credentials` and `tessera withdrawal`: what the home's audits trust, who signs
for the home and what a recheck does with a withdrawn file, set once and used by every command."""
from __future__ import annotations

from pathlib import Path

import click

from flows.cli_common import SetupError, _home, home_config, home_option

__all__ = ["HOME_COMMANDS"]


@click.group()
def trust() -> None:
    """The roots and EKUs this home's audits trust.

    \b
    Examples:
      tessera trust set --anchors c2pa-trust-list.pem
      tessera trust set --anchors our-root.pem --trust-config allowed-ekus.cfg
      tessera trust show
    """


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


@click.group()
def credentials() -> None:
    """The one signer of this home.

    \b
    Examples:
      tessera credentials set --cert-chain /etc/tessera/chain.pem --private-key /etc/tessera/key.pem
      tessera credentials show
    """


@credentials.command("set")
@click.option("--cert-chain", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Production PEM certificate chain (leaf first).")
@click.option("--private-key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Its PEM private key: keep it outside the home, mode 0600.")
@click.option("--tsa-url", help="RFC 3161 time-stamp authority URL.")
@click.option("--allow-insecure-key", is_flag=True, help="Accept a key file that group or others can read.")
@home_option
def credentials_set(cert_chain, private_key, tsa_url, allow_insecure_key, home):
    """Make this home sign with a production chain: render, review approve and nightly runs use it,
    `authorship verify` verifies with it, and no development key is created any more.

    The files are checked now (pair, validity, key mode) and referenced by absolute path.

    \b
    Examples:
      tessera credentials set --cert-chain chain.pem --private-key /secure/signer.key
      tessera credentials set --cert-chain chain.pem --private-key signer.key --tsa-url http://tsa.example
    """
    from dataclasses import replace

    from pipeline.home import HomeError, open_home, write_config
    from provenance import CredentialError, SigningConfig, load_credentials

    try:
        folder = open_home(_home(home), create=True)
    except HomeError as exc:
        raise SetupError(str(exc)) from None
    chain, key = cert_chain.resolve(), private_key.resolve()
    if key.is_relative_to(folder.resolve()):
        raise SetupError(f"{key} is inside the home {folder}: a writer to the home could read it; keep it outside")
    try:
        loaded = load_credentials(SigningConfig(home=folder, cert_chain=chain, private_key=key, tsa_url=tsa_url,
                                                allow_insecure_key=allow_insecure_key))
    except CredentialError as exc:
        raise SetupError(str(exc)) from None
    path = write_config(folder, replace(home_config(home), cert_chain=chain, private_key=key, tsa_url=tsa_url,
                                        allow_insecure_key=allow_insecure_key))
    click.echo(f"this home signs as {loaded.signer_name} (certificate valid until {loaded.not_after:%Y-%m-%d})")
    click.echo(f"stored in {path}")


@credentials.command("show")
@home_option
def credentials_show(home):
    """Print which signer this home uses.

    \b
    Examples:
      tessera credentials show
    """
    config = home_config(home)
    if config.cert_chain is None:
        click.echo("development signer (created in the home on first signing; trusted in this home only)")
    else:
        click.echo(f"production: {config.cert_chain} with key {config.private_key}"
                   + (f", time stamps from {config.tsa_url}" if config.tsa_url else ""))


@click.group()
def withdrawal() -> None:
    """What `tessera recheck` (and the nightly run's recheck) does with the file of an asset it withdraws.

    \b
    quarantine     (default) move it out of its output folder into <home>/quarantine/withdrawn/
    takedown-list  leave it where it is and add it to <home>/takedown.json for whoever unpublishes it

    \b
    Examples:
      tessera withdrawal set takedown-list
      tessera withdrawal show
    """


@withdrawal.command("set")
@click.argument("mode", metavar="quarantine|takedown-list")
@home_option
def withdrawal_set(mode, home):
    """Store MODE (quarantine or takedown-list) as this home's way of withdrawing a file.

    \b
    Examples:
      tessera withdrawal set quarantine
      tessera withdrawal set takedown-list --home /srv/tessera
    """
    from dataclasses import replace

    from pipeline.home import WITHDRAWAL_MODES, HomeError, open_home, write_config

    if mode not in WITHDRAWAL_MODES:
        raise click.BadParameter(f"expected one of {', '.join(WITHDRAWAL_MODES)}, got {mode!r}", param_hint="MODE")
    try:
        folder = open_home(_home(home), create=True)
    except HomeError as exc:
        raise SetupError(str(exc)) from None
    path = write_config(folder, replace(home_config(home), withdrawal=mode))
    click.echo(f"withdrawn files: {mode}; stored in {path}")


@withdrawal.command("show")
@home_option
def withdrawal_show(home):
    """Print what this home does with a withdrawn file.

    \b
    Examples:
      tessera withdrawal show
    """
    from pipeline.settings import Settings

    settings = Settings.build(home=_home(home))
    where = settings.takedown_list if settings.withdrawal == "takedown-list" else settings.withdrawn_dir
    click.echo(f"withdrawn files: {settings.withdrawal} ({where})")


HOME_COMMANDS = (trust, credentials, withdrawal)
