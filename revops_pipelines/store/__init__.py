"""The project's store: SQLAlchemy tables, Alembic migrations, one engine per database URL."""

from revops_pipelines.store.engine import (
    database_url,
    get_engine,
    state_dir,
    transaction,
    upgrade,
)
from revops_pipelines.store.tables import (
    effect_ledger,
    id_map,
    metadata,
    routing_state,
    sync_log,
    sync_state,
    webhook_inbox,
)

__all__ = [
    "database_url",
    "effect_ledger",
    "get_engine",
    "id_map",
    "metadata",
    "routing_state",
    "state_dir",
    "sync_log",
    "sync_state",
    "transaction",
    "upgrade",
    "webhook_inbox",
]
