"""Mapping speed: the vectorized account mapping against a per-row Python loop, side by side.

Generates N synthetic Salesforce accounts (messy websites, picklists, countries), maps them with
`map_accounts`, then with a straightforward per-row loop doing the same transforms, and prints
time, rows/s, peak memory (tracemalloc) and the speed ratio.

    .venv/bin/python benchmarks/bench_mapping.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import re
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pycountry

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.domain.field_mapping import FieldMapping

WEBSITES = [
    "https://www.acme{}.com/about",
    "acme{}.io",
    "HTTP://WWW.Example{}.co.uk:8080/x?y",
    "n/a",
    "",
    None,
]
INDUSTRIES = ["Technology", "Banking", "Retail", "Underwater", "", None, "Energy"]
COUNTRIES = ["USA", "Germany", "Deutschland", "FR", "United Kingdom", "Narnia", None]


def synthetic_accounts(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.char.add("001", np.char.zfill(np.arange(rows).astype(str), 15))
    site_kind = rng.integers(0, len(WEBSITES), rows)
    number = rng.integers(0, 50_000, rows)
    websites = [
        WEBSITES[k].format(n) if WEBSITES[k] else WEBSITES[k]
        for k, n in zip(site_kind, number, strict=True)
    ]
    return pd.DataFrame(
        {
            "Id": ids,
            "SystemModstamp": "2026-11-20T08:00:00.000+0000",
            "IsDeleted": rng.random(rows) < 0.02,
            "Name": np.char.add("Company ", number.astype(str)),
            "Website": websites,
            "Industry": rng.choice(np.array(INDUSTRIES, dtype=object), rows),
            "NumberOfEmployees": rng.integers(1, 100_000, rows),
            "AnnualRevenue": rng.random(rows) * 1e8,
            "BillingCountry": rng.choice(np.array(COUNTRIES, dtype=object), rows),
            "Description": None,
        }
    )


def per_row(accounts: pd.DataFrame, mapping: FieldMapping) -> list[dict[str, Any]]:
    """The naive baseline: one Python dict per account, each transform called per value."""
    industry = {k.casefold(): v for k, v in mapping.rule_for("industry").options.items()}
    out = []

    def text(value: Any) -> str:
        return value.strip() if isinstance(value, str) else ""

    for record in accounts.to_dict("records"):
        site = text(record["Website"]).lower()
        site = re.sub(r"^(?:[a-z][a-z0-9+.\-]*:)?//", "", site).split("/")[0].split(":")[0]
        site = re.sub(r"^www\d{0,3}\.", "", site)
        domain = site if re.fullmatch(r"(?:[a-z0-9-]{1,63}\.)+[a-z]{2,63}", site) else None
        title = text(record["Industry"])
        country = text(record["BillingCountry"])
        code = mapping.country_aliases.get(country.casefold())
        if country and code is None:
            try:
                code = pycountry.countries.lookup(country).alpha_2
            except LookupError:
                code = None
        name = text(record["Name"]) or None
        out.append(
            {
                "source_id": record["Id"],
                "name": name,
                "domains": domain,
                "industry": industry.get(title.casefold(), "Other") if title else None,
                "employee_count": int(record["NumberOfEmployees"]),
                "annual_revenue": round(float(record["AnnualRevenue"]), 4),
                "primary_location": code,
                "reject_reason": None if name else "Name is required",
            }
        )
    return out


def measure(fn: Any, *args: Any) -> tuple[float, float]:
    """Wall time of a plain run, then peak traced memory of a second run (tracing slows it)."""
    started = time.perf_counter()
    fn(*args)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    mapping = load_model(config_path("field_mapping.yaml"), FieldMapping)
    accounts = synthetic_accounts(args.rows)
    ours_s, ours_mb = measure(map_accounts, accounts, mapping)
    loop_s, loop_mb = measure(per_row, accounts, mapping)
    print(f"{args.rows:,} synthetic accounts; peak memory is what the mapping itself allocated.\n")
    print("| mapping | seconds | rows/s | peak MiB |")
    print("|---|---:|---:|---:|")
    print(
        f"| map_accounts (vectorized pandas) | {ours_s:.2f} | {args.rows / ours_s:,.0f} | {ours_mb:,.0f} |"
    )
    print(f"| per-row Python loop | {loop_s:.2f} | {args.rows / loop_s:,.0f} | {loop_mb:,.0f} |")
    print(f"\nspeed-up of the vectorized mapping over the loop: {loop_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
