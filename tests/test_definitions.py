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
