"""`placecode identity`: whose person tokens are accepted, and the demo issuers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.table import Table

from placecode.cli.common import console, settings, unit_of_work
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput
from placecode.people import identity
from placecode.signing import write_private_key

app = typer.Typer(
    help="Identity providers whose person tokens PlaceCode accepts.", no_args_is_help=True
)

DEMO_ISSUERS = {"suishenban": "suishenban", "wechat": "wechat", "alipay": "alipay"}


def demo_issuer_key(loaded: Settings, name: str) -> Path:
    return loaded.key_dir / "issuers" / f"{name}.pem"


def load_demo_issuer(loaded: Settings, name: str) -> Ed25519PrivateKey:
    """The private key of a demo issuer (what its front end would hold)."""
    path = demo_issuer_key(loaded, name)
    if not path.exists():
        raise InvalidInput(
            f"There is no demo issuer {name!r}; run `placecode identity demo-issuers`.",
            code="unknown_issuer",
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def make_demo_issuers(loaded: Settings) -> list[str]:
    """Keys for 随申办, WeChat and Alipay stand-ins, registered as accepted issuers."""
    made = []
    with unit_of_work() as (_settings, session):
        for name, channel in DEMO_ISSUERS.items():
            path = demo_issuer_key(loaded, name)
            if not path.exists():
                write_private_key(path, Ed25519PrivateKey.generate())
            key = load_demo_issuer(loaded, name)
            identity.add_issuer(
                session=session, name=name, channel=channel, public_key=key.public_key()
            )
            made.append(name)
    return made


@app.command("add-issuer")
def add_issuer(
    name: str,
    channel: str = typer.Option(..., help="suishenban, wechat, alipay or web."),
    public_key: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="Ed25519 public key, PEM."
    ),
) -> None:
    """Accept person tokens signed by this issuer."""
    key = serialization.load_pem_public_key(public_key.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"{public_key} is not an Ed25519 public key.", code="key_type")
    with unit_of_work() as (_settings, session):
        identity.add_issuer(session=session, name=name, channel=channel, public_key=key)
    console.print(f"Tokens from {name} ({channel}) are accepted.")


@app.command()
def revoke(name: str) -> None:
    """Stop accepting an issuer's tokens."""
    with unit_of_work() as (_settings, session):
        identity.revoke_issuer(session=session, name=name)
    console.print(f"Tokens from {name} are refused from now on.")


@app.command("list")
def list_issuers() -> None:
    """List the issuers."""
    with unit_of_work(write=False) as (_settings, session):
        table = Table("name", "channel", "since", "revoked")
        for issuer in identity.list_issuers(session=session):
            table.add_row(
                issuer.name,
                issuer.channel,
                issuer.created_at.isoformat(timespec="minutes"),
                issuer.revoked_at.isoformat(timespec="minutes") if issuer.revoked_at else "",
            )
    console.print(table)


@app.command("demo-issuers")
def demo_issuers() -> None:
    """Make stand-in issuers for the demo and the simulator (keys under the key directory)."""
    made = make_demo_issuers(settings())
    console.print(f"Demo issuers ready: {', '.join(made)}.")


@app.command()
def token(
    issuer: str = typer.Option(..., help="A demo issuer (suishenban, wechat, alipay)."),
    doc_type: str = typer.Option("id_card"),
    doc_number: str = typer.Option(...),
    name: str | None = typer.Option(None),
    phone: str | None = typer.Option(None),
    minutes: int = typer.Option(60, min=1, max=60 * 24 * 30),
) -> None:
    """Print a person token as a demo issuer's front end would present it."""
    loaded = settings()
    console.print(
        identity.external_token(
            load_demo_issuer(loaded, issuer),
            issuer=issuer,
            doc_type=doc_type,
            doc_number=doc_number,
            name=name,
            phone=phone,
            expires=clock.now() + timedelta(minutes=minutes),
        ),
        highlight=False,
        soft_wrap=True,
    )
