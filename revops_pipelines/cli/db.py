"""`revops db`: migrate the project's store."""

from __future__ import annotations

import click
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine


def _safe_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


@click.group()
def db() -> None:
    """The project's store (REVOPS_DATABASE_URL; a SQLite file under .revops/ by default)."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = store_engine.database_url()
    before = store_engine.current_revision(url)
    store_engine.upgrade(url, revision)
    after = store_engine.current_revision(url)
    click.echo(f"{_safe_url(url)}: {before or 'empty'} -> {after}")


@db.command()
def current() -> None:
    """Print the database's revision and the newest one this code knows."""
    url = store_engine.database_url()
    current_rev = store_engine.current_revision(url)
    head = store_engine.head_revision()
    state = "up to date" if current_rev == head else "needs `revops db upgrade`"
    click.echo(f"{_safe_url(url)}: at {current_rev or 'empty'}, head {head} ({state})")
