"""`revops db upgrade|current` on both engines."""

from __future__ import annotations

from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.store import engine as store_engine


def test_db_current_and_upgrade(db_url: str) -> None:
    runner = CliRunner()
    env = {"REVOPS_DATABASE_URL": db_url}
    store_engine.downgrade(db_url, "base")
    before = runner.invoke(app, ["db", "current"], env=env)
    assert before.exit_code == 0
    assert "at empty" in before.output and "needs `revops db upgrade`" in before.output
    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0
    assert f"empty -> {store_engine.head_revision()}" in upgraded.output
    after = runner.invoke(app, ["db", "current"], env=env)
    assert "up to date" in after.output
