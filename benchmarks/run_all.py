"""Every benchmark of `benchmarks/`, one after another, each printing its own tables (`make bench`).

Each `bench_*.py` runs in a process of its own (as its docstring shows it run by hand), so one
benchmark's threads, servers and memory never colour the next. `--quick` gives each known
benchmark a small size, for a check that all of them still run in a few minutes; without it each
runs at its default size (the figures the README quotes). A benchmark that fails is reported and
the others still run; the exit status is 1 if any failed.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only bench_mapping ...] [--list]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Small sizes per benchmark for --quick; a benchmark not named here runs with its defaults.
QUICK_ARGS: dict[str, list[str]] = {
    "bench_attio_client": ["--writes", "100", "--naive-writes", "20"],
    "bench_company_sync": ["--companies", "200", "--naive-writes", "40"],
    "bench_lead_flow": ["--leads", "10"],
    "bench_mapping": ["--rows", "20000"],
    "bench_receiver": ["--seconds", "1", "--warmup", "0.5"],
    "bench_speed_to_lead": ["--leads", "3", "--accounts", "1000"],
}


def benchmarks() -> list[str]:
    """Every benchmark's name (`bench_*.py`), sorted."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def run(name: str, quick: bool) -> tuple[int, float]:
    command = [
        sys.executable,
        str(HERE / f"{name}.py"),
        *(QUICK_ARGS.get(name, []) if quick else []),
    ]
    print(f"\n## {name}\n\n`{' '.join(command[1:])}`\n", flush=True)
    started = time.perf_counter()
    status = subprocess.call(command, cwd=HERE.parent)
    return status, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes in all")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these benchmarks only")
    parser.add_argument("--list", action="store_true", help="print the benchmarks and stop")
    args = parser.parse_args()
    names = benchmarks()
    if args.list:
        print("\n".join(names))
        return
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(names)})")
    results = {name: run(name, args.quick) for name in (args.only or names)}
    print("\n## Summary\n\n| benchmark | exit | seconds |\n|---|---:|---:|")
    for name, (status, seconds) in results.items():
        print(f"| {name} | {status} | {seconds:.1f} |")
    sys.exit(1 if any(status for status, _ in results.values()) else 0)


if __name__ == "__main__":
    main()
