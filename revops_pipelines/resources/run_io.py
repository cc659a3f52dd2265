"""The default IO manager: each run's outputs in a folder of that run, never shared between runs.

Dagster's own filesystem IO manager stores an asset's value at one path per asset key. The inbox
jobs' assets (`form_submissions` -> `inbound_leads` -> `attio_people` -> ...) carry one run's
batch of inbox rows, and two inbox runs may run at once (deploy/dagster.yaml allows two of
each): with one path per asset, a run's step could load the other run's batch and mark its own
rows done without processing them. Here an output lives at
`<base_dir>/<run_id>/<step>/<output>.pkl`, the layout Dagster uses for op outputs, so a step
reads its own run's upstream (or, re-executing from a failure, the parent run's).

The files are on the local disk: steps of one run on other machines (Celery workers, k8s step
pods) need `base_dir` on storage they all mount (deploy/README.md, "Celery workers").
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field


class RunScopedPickleIOManager(dg.ConfigurableIOManager):
    """Pickled step outputs under `base_dir`, one folder per run."""

    base_dir: str = Field(default="", description="Empty: $DAGSTER_HOME/storage.")

    def _root(self) -> Path:
        if self.base_dir:
            return Path(self.base_dir)
        home = os.environ.get("DAGSTER_HOME") or str(Path.cwd() / ".revops" / "dagster_home")
        return Path(home) / "storage"

    def _path(self, context: dg.OutputContext) -> Path:
        # run id, step key, output name (and a dynamic mapping key): unique per step output.
        *folders, name = context.get_identifier()
        return self._root().joinpath(*folders) / f"{name}.pkl"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as file:
            pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(path)  # a reader never sees half a file
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        if upstream is None:
            raise ValueError(f"input {context.name!r} has no upstream output to load")
        path = self._path(upstream)
        if not path.exists():
            what = upstream.asset_key.to_user_string() if upstream.has_asset_key else upstream.name
            raise FileNotFoundError(
                f"{what} has no stored output for run {upstream.run_id} ({path}): a step reads "
                "its upstream from the same run; materialize them together"
            )
        with path.open("rb") as file:
            return pickle.load(file)
