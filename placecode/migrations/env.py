"""Alembic environment: runs on the connection PlaceCode hands over, SQLite or PostgreSQL."""

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine

from placecode.db import UTCDateTime, include_object, load_all_models

config = context.config
target_metadata = load_all_models()


def render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Write our column types as plain SQLAlchemy ones, so migrations stand on their own."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        run(connection)
