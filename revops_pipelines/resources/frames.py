"""An IO manager for daily-partitioned DataFrames that also handles partition ranges.

Dagster's filesystem IO manager refuses an output that spans several partitions, but our
backfills batch many days per run. This one splits a frame by a timestamp column into one file
per day, and reads a range back as one frame. Rows that fall before the first or after the last
day of the range (a lookback window's overlap) are kept with the nearest day, never dropped.

pandas is imported when a frame is stored or loaded, not with the definitions (a process that
only loads them, the code server or a sensor, never needs it); `DataFrame` below stands for
pandas' in the asset annotations Dagster reads at load.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd


class _PandasFrameCheck(type):
    def __instancecheck__(cls, value: object) -> bool:
        # Without pandas loaded nothing can be a DataFrame: the check never imports it.
        pandas = sys.modules.get("pandas")
        return pandas is not None and isinstance(value, pandas.DataFrame)


class DataFrame(metaclass=_PandasFrameCheck):
    """`pandas.DataFrame` for Dagster: an asset annotated with it gets a Dagster type named
    DataFrame that accepts exactly pandas DataFrames, as the real class would give, but
    resolving the annotation when the definitions load does not import pandas. Type checkers
    see the real class (`if TYPE_CHECKING: from pandas import DataFrame`)."""


class DailyFrameIOManager(dg.ConfigurableIOManager):
    """Pickled DataFrames, one file per asset and day, under `base_dir`."""

    base_dir: str = Field(default="", description="Empty: $DAGSTER_HOME/storage/frames.")
    column: str = Field(
        default="modified_at",
        description="The UTC timestamp column to split on; an asset's `partition_column` "
        "definition metadata overrides it.",
    )

    def _root(self) -> Path:
        if self.base_dir:
            return Path(self.base_dir)
        home = os.environ.get("DAGSTER_HOME") or str(Path.cwd() / ".revops" / "dagster_home")
        return Path(home) / "storage" / "frames"

    def _path(self, key: dg.AssetKey, partition: str) -> Path:
        return self._root().joinpath(*key.path) / f"{partition}.pkl"

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        import pandas as pd

        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()} must return a pandas DataFrame")
        keys = sorted(context.asset_partition_keys)
        column = (context.definition_metadata or {}).get("partition_column", self.column)
        if column not in obj.columns:
            raise KeyError(f"{context.asset_key.to_user_string()} has no column {column!r}")
        days = pd.to_datetime(obj[column], utc=True, format="ISO8601").dt.strftime("%Y-%m-%d")
        days = days.fillna(keys[0])
        days = days.where(days >= keys[0], keys[0]).where(days <= keys[-1], keys[-1])
        for key in keys:
            path = self._path(context.asset_key, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            part = obj[(days == key).to_numpy()]
            temporary = path.with_suffix(".tmp")
            part.to_pickle(temporary)
            temporary.replace(path)  # a reader never sees half a file
        context.add_output_metadata({"rows": len(obj), "days": len(keys)})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        import pandas as pd

        frames = []
        for key in sorted(context.asset_partition_keys):
            path = self._path(context.asset_key, key)
            if not path.exists():
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} has no stored partition {key}; "
                    "materialize it first"
                )
            frames.append(pd.read_pickle(path))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
