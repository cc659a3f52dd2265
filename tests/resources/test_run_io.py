"""The default IO manager keeps each run's outputs apart: two inbox runs at once never load each
other's batch (what lost leads when two lead runs overlapped on Celery workers)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from revops_pipelines.definitions import defs
from revops_pipelines.resources import RunScopedPickleIOManager


def _output(run_id: str, key: str = "attio_people") -> dg.OutputContext:
    return dg.build_output_context(
        run_id=run_id, step_key=key, name="result", asset_key=dg.AssetKey(key)
    )


def test_interleaved_runs_each_load_their_own_batch(tmp_path: Path) -> None:
    manager = RunScopedPickleIOManager(base_dir=str(tmp_path))
    # Run A writes its batch, run B writes its own, then run A's next step loads.
    manager.handle_output(_output("run-a"), ["lead-1", "lead-2"])
    manager.handle_output(_output("run-b"), ["lead-3", "lead-4"])
    for run_id, batch in (("run-a", ["lead-1", "lead-2"]), ("run-b", ["lead-3", "lead-4"])):
        context = dg.build_input_context(upstream_output=_output(run_id), name="attio_people")
        assert manager.load_input(context) == batch
    assert (tmp_path / "run-a" / "attio_people" / "result.pkl").exists()


def test_a_missing_upstream_names_the_asset_and_the_run(tmp_path: Path) -> None:
    manager = RunScopedPickleIOManager(base_dir=str(tmp_path))
    context = dg.build_input_context(upstream_output=_output("run-x", "inbound_leads"))
    with pytest.raises(FileNotFoundError, match="inbound_leads has no stored output for run run-x"):
        manager.load_input(context)


def test_a_job_run_passes_values_between_its_steps_through_its_own_folder(
    tmp_path: Path,
) -> None:
    @dg.asset
    def batch() -> list[int]:
        return [1, 2, 3]

    @dg.asset
    def doubled(batch: list[int]) -> list[int]:
        return [2 * x for x in batch]

    manager = RunScopedPickleIOManager(base_dir=str(tmp_path))
    with dg.instance_for_test() as instance:
        first = dg.materialize(
            [batch, doubled], resources={"io_manager": manager}, instance=instance
        )
        second = dg.materialize(
            [batch, doubled], resources={"io_manager": manager}, instance=instance
        )
    assert first.output_for_node("doubled") == [2, 4, 6]
    for result in (first, second):
        assert (tmp_path / result.run_id / "doubled" / "result.pkl").exists()


def test_the_code_location_uses_it_for_every_output_without_an_io_manager_of_its_own() -> None:
    assert isinstance(defs.resources["io_manager"], RunScopedPickleIOManager)
