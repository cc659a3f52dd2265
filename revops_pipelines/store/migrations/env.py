"""Alembic environment: migrations always run on a connection handed in by `store.engine`."""

from alembic import context

from revops_pipelines.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `revops db upgrade` (revops_pipelines.store.engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
