"""The top-level workspace.yaml, read the way `dagster dev -w` and `dagster-webserver -w` read it:
one code location named `revops_pipelines` whatever the current folder is called, on the same
definitions the production gRPC workspace (deploy/workspace.yaml) serves under the same name."""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.workspace.load_target import WorkspaceFileTarget

from revops_pipelines.cli.webserver import workspace_file
from tests.ui.ui_world import LOCATION, ROOT, WORKSPACE


def _origins(path: Path) -> list[object]:
    return list(WorkspaceFileTarget(paths=[str(path)]).create_origins())


def test_the_location_is_named_revops_pipelines_from_a_folder_named_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clone in a folder called `fresh` used to show up as location `fresh`.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.chdir(fresh)
    [origin] = _origins(WORKSPACE)
    assert origin.location_name == LOCATION == "revops_pipelines"  # type: ignore[attr-defined]
    target = origin.loadable_target_origin  # type: ignore[attr-defined]
    assert (target.module_name, target.attribute) == ("revops_pipelines.definitions", "defs")
    module = importlib.import_module(target.module_name)
    assert isinstance(getattr(module, target.attribute), dg.Definitions)


def test_production_workspace_serves_the_same_location_name() -> None:
    [origin] = _origins(ROOT / "deploy" / "workspace.yaml")
    assert isinstance(origin, GrpcServerCodeLocationOrigin)
    assert origin.location_name == LOCATION


def test_the_demo_starts_dagster_on_this_workspace_file() -> None:
    assert workspace_file() == WORKSPACE
