"""`placecode ca`: a local certificate authority for the demo and the tests.

Production trusts the real CA's root (PLACECODE_TRUST_STORE) and never runs these.
"""

from __future__ import annotations

from pathlib import Path

import typer

from placecode.cli.common import console, settings
from placecode.venues import certificates
from placecode.venues.uscc import normalise_uscc

app = typer.Typer(
    help="A local CA that issues legal-person certificates (demo only).", no_args_is_help=True
)


@app.command()
def init() -> None:
    """Make the local CA under the key directory (kept if it exists)."""
    path = certificates.init_ca(settings())
    console.print(f"Local CA root: {path}")


@app.command("issue-org")
def issue_org(
    uscc: str = typer.Option(..., help="The organisation's unified social credit code."),
    name: str = typer.Option(..., help="Its registered name."),
    days: int = typer.Option(365, min=1, max=3650),
    out: Path = typer.Option(Path("."), help="Directory for the certificate and its key."),
) -> None:
    """Issue an organisation certificate (ECDSA P-256) and its private key."""
    issued = certificates.issue_org_certificate(
        settings(), uscc=normalise_uscc(uscc), name=name.strip(), out_dir=out, days=days
    )
    console.print(f"Certificate: {issued.certificate_path}")
    console.print(f"Private key: {issued.key_path}  (keep it secret)")


@app.command("sign-challenge")
def sign_challenge(
    key: Path = typer.Option(..., exists=True, dir_okay=False, help="The private key (PEM)."),
    challenge: str = typer.Option(..., help="The challenge text, exactly as given."),
) -> None:
    """Sign a verification challenge with an organisation's key (prints base64)."""
    console.print(certificates.sign_challenge(key.read_bytes(), challenge), highlight=False)
