"""A broken field mapping fails definition loading, naming the file and the line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from revops_pipelines.config.loader import DEFAULT_DIR


def test_dg_check_defs_fails_on_a_bad_mapping_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    mapping = config / "field_mapping.yaml"
    text = mapping.read_text().replace("transform: currency", "transform: money")
    mapping.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "transform: money" in row)
    env = {**os.environ, "REVOPS_CONFIG_DIR": str(config), "VIRTUAL_ENV": sys.prefix}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert f"{mapping}:{line}: fields[" in output
    assert ".transform:" in output


def test_dg_check_defs_fails_on_a_bad_pipeline_rule_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rules = config / "pipelines.yaml"
    text = rules.read_text().replace("due_business_days: 2", "due_business_days: soon")
    rules.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "soon" in row)
    env = {**os.environ, "REVOPS_CONFIG_DIR": str(config), "VIRTUAL_ENV": sys.prefix}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert f"{rules}:{line}: rules[0].task.due_business_days:" in output
