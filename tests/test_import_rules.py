"""The layer rules of DESIGN.md, as import-linter contracts in pyproject.toml: kept by the tree, and
broken (so the check can fail) by a scratch copy with one forbidden import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first, so the packages analysed are the ones in `tree`, not the installed ones.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _scratch_copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for package in ("revops_pipelines", "revops_sandbox"):
        shutil.copytree(ROOT / package, tree / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_client_that_reads_the_store_breaks_the_resources_contract(tmp_path: Path) -> None:
    tree = _scratch_copy(tmp_path)
    slack = tree / "revops_pipelines" / "resources" / "slack.py"
    slack.write_text(slack.read_text() + "\nfrom revops_pipelines.store import engine  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "resources are clients: infra and domain only, no store, no flows BROKEN" in (
        result.stdout
    )
    assert "revops_pipelines.resources.slack -> revops_pipelines.store" in result.stdout


def test_a_stand_in_that_imports_the_product_breaks_the_sandbox_contract(tmp_path: Path) -> None:
    tree = _scratch_copy(tmp_path)
    slack = tree / "revops_sandbox" / "slack.py"
    slack.write_text(slack.read_text() + "\nimport revops_pipelines.domain.messages  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "the sandbox shares nothing with the product BROKEN" in result.stdout


def test_a_domain_module_that_reaches_a_client_breaks_purity(tmp_path: Path) -> None:
    tree = _scratch_copy(tmp_path)
    routing = tree / "revops_pipelines" / "domain" / "routing.py"
    routing.write_text(routing.read_text() + "\nimport revops_pipelines.resources.slack  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "domain is pure: it imports nothing of ours BROKEN" in result.stdout
