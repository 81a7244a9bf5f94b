"""Alembic environment: the server hands us an open connection."""

from __future__ import annotations

from alembic import context

from tidings.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  on_version_apply=context.config.attributes.get("on_version_apply"))
with context.begin_transaction():
    context.run_migrations()
