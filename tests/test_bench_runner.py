"""`make bench` runs `benchmarks/run_all.py`: it finds every benchmark and prints their tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_ALL = ROOT / "benchmarks" / "run_all.py"


def test_run_all_lists_every_benchmark_and_the_makefile_calls_it() -> None:
    listed = subprocess.run(
        [sys.executable, str(RUN_ALL), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert "benchmarks/run_all.py" in (ROOT / "Makefile").read_text()


def test_run_all_runs_a_benchmark_and_prints_its_table() -> None:
    done = subprocess.run(
        [sys.executable, str(RUN_ALL), "--quick", "--only", "bench_mapping"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "| map_accounts (vectorized pandas) |" in done.stdout
    assert "| bench_mapping | 0 |" in done.stdout


def test_run_all_refuses_an_unknown_benchmark() -> None:
    done = subprocess.run(
        [sys.executable, str(RUN_ALL), "--only", "bench_nothing"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "no such benchmark: bench_nothing" in done.stderr
