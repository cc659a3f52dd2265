"""The code location loads, validates, and raises no deprecation warning of its own."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg

from revops_pipelines.definitions import defs

# A fresh interpreter sees every warning raised while the definitions import.
PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import revops_pipelines.definitions
print(json.dumps([
    f"{w.filename}:{w.lineno} {w.category.__name__}: {w.message}"
    for w in caught
    if issubclass(w.category, (DeprecationWarning, FutureWarning))
    and "revops_pipelines" in w.filename
]))
"""


def test_definitions_load_and_validate() -> None:
    dg.Definitions.validate_loadable(defs)
    assert {"attio", "database"} <= set(defs.resources or {})


def test_loading_emits_no_deprecation_warning_from_our_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# Libraries a step imports when it needs them, never the definitions: every process that loads the
# location (the code server, each run and Celery worker, `dg check defs`) would pay for them.
NOT_AT_LOAD = (
    "pandas",
    "numpy",
    "pyarrow",
    "simple_salesforce",
    "slack_sdk",
    "alembic",
    "nameparser",
    "phonenumbers",
    "revops_sandbox",
)
IMPORTED = """
import json, sys
import revops_pipelines.definitions
print(json.dumps(sorted(name for name in {names!r} if name in sys.modules)))
"""


def test_loading_the_definitions_imports_no_heavy_library() -> None:
    probe = IMPORTED.format(names=NOT_AT_LOAD)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_frame_assets_still_type_their_values_as_pandas_dataframes() -> None:
    """The annotations name a stand-in of pandas' DataFrame (resources/frames.py): Dagster
    still sees a DataFrame type that takes pandas frames and refuses anything else."""
    import pandas as pd

    assets = {a.key.path[-1]: a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)}
    types = [
        assets["salesforce_accounts"].op.outs["result"].dagster_type,
        assets["mapped_companies"].op.ins["salesforce_accounts"].dagster_type,
        assets["attio_companies"].op.ins["mapped_companies"].dagster_type,
    ]
    for dagster_type in types:
        assert dagster_type.display_name == "DataFrame"
        assert dg.check_dagster_type(dagster_type, pd.DataFrame({"a": [1]})).success
        assert not dg.check_dagster_type(dagster_type, {"a": [1]}).success
