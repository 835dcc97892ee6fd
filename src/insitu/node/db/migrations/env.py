"""Alembic environment: runs migrations on the engine the node passes in."""

from __future__ import annotations

from alembic import context

from insitu.node.db.schema import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
