"""`placecode init`: an empty database made ready to serve, with its first administrator."""

from __future__ import annotations

import typer

from placecode import db as database_module
from placecode import signing
from placecode.accounts import service as accounts
from placecode.accounts.models import Role
from placecode.accounts.security import generate_password
from placecode.cli.common import console, database, operator, settings
from placecode.people import sealing
from placecode.region import service as region
from placecode.venues import certificates


def init(
    admin: str = typer.Option("admin", help="Username of the first district administrator."),
    password: str | None = typer.Option(None, help="Their password (generated when omitted)."),
) -> None:
    """Migrate, load the packaged region, make the code-signing key (and, for the demo, a
    local CA and the health authority's key pair when none is configured), and create the
    first admin."""
    loaded = settings()
    db = database(loaded)
    try:
        database_module.upgrade(db.engine)
        if loaded.trust_store is None:
            certificates.init_ca(loaded)  # the demo's own CA, so organisations can apply
        if loaded.authority_public_key is None:
            sealing.init_authority(loaded)  # the demo's stand-in for the health authority
        with db.session() as session:
            signing.ensure_signing_key(session=session, settings=loaded)
            if not region.is_loaded(session=session):
                summary = region.load_region(
                    session=session, data=region.read_region_file(region.packaged_region_path())
                )
                console.print(
                    f"Loaded region {summary.region} ({summary.streets} streets and towns)."
                )
            if accounts.has_users(session=session):
                console.print("Accounts exist already; no administrator created.")
                return
            chosen = password or generate_password()
            accounts.create_user(
                session=session,
                settings=loaded,
                actor=operator(),
                username=admin,
                role=Role.district_admin,
                display_name="District administrator",
                password=chosen,
            )
    finally:
        db.dispose()
    console.print(f"Created district administrator [bold]{admin}[/bold].")
    if password is None:
        console.print(
            f"Password: [bold]{chosen}[/bold]  (shown once; change it with "
            f"`placecode users password {admin}`)"
        )
