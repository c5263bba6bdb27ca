"""Regenerate the README's yearly-key table (a year of the default satellite with weather).

    python tools/year_table.py          # rewrite README.md in place
    python tools/year_table.py --check  # exit 1 if README.md is stale

Runs ``configs/micius-year.yaml`` through the library (the same
:func:`satqkd.pipeline.run` and weather Monte Carlo as ``satqkd run``) and
replaces the text between ``<!-- BEGIN year-table -->`` and ``<!-- END
year-table -->``: the delivered key of the run's weather year first (what
``run.json`` and the report's first card say), then the key per station
over the weather years, and the clear-sky ceiling.  Takes as long as the
year (~10-30 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from satqkd.config import load_scenario  # noqa: E402
from satqkd.pipeline import run  # noqa: E402
from satqkd.schedule import key_summary  # noqa: E402
from satqkd.units import format_bits  # noqa: E402

SCENARIO = ROOT / "configs" / "micius-year.yaml"
APERTURE = {"Nanshan": "1.2 m", "Xinglong": "1.0 m"}
WEATHER = {"Nanshan": "48 % clear nights, Muztagh-ata proxy", "Xinglong": "63 % spectroscopic nights, worst in summer"}


def year_table() -> str:
    sc = load_scenario(SCENARIO)
    results = run(sc)
    yearly, _ = results.weather_tables()
    k = key_summary(results.passes)
    p = results.passes
    rows = yearly[yearly["satellite"] == "all"].set_index("station")
    served = p["scheduled"] & p["clear"]
    lines = [
        f"Yearly key of the default satellite (`satqkd run {SCENARIO.relative_to(ROOT)}`, "
        f"{sc.start.utc_strftime('%Y-%m-%d')} + {sc.end.tt - sc.start.tt:.0f} days, {sc.weather.years:,} weather "
        f"years, seed {sc.weather.seed}, greedy schedule in every weather year). **Delivered: "
        f"{format_bits(k['delivered_key_bits'])}** in the weather year drawn for `passes.csv` "
        f"({k['passes_served']:,} of {len(p):,} passes served); lost to cloud {format_bits(k['lost_to_cloud_bits'])} "
        f"({k['cloudy_passes']:,} passes), to conflicts {format_bits(k['lost_to_conflicts_bits'])} "
        f"({k['conflicting_passes']:,} clear passes); clear-sky ceiling {format_bits(k['clear_sky_ceiling_bits'])} "
        "(every pass served, every night clear). Over the weather years:",
        "",
        "| station | this run | mean | P10 | P50 | P90 | clear sky, scheduled | weather (preset) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in [s.station.name for s in sc.stations] + ["all"]:
        r = rows.loc[name]
        mine = served if name == "all" else served & (p["station"] == name)
        label = "both" if name == "all" else f"{name} ({APERTURE.get(name, '')})"
        lines.append(f"| {label} | {format_bits(p.loc[mine, 'key_bits'].sum())} | "
                     + " | ".join(format_bits(r[c]) for c in ("mean_bits", "p10_bits", "p50_bits", "p90_bits", "clear_sky_bits"))
                     + f" | {WEATHER.get(name, '')} |")
    xl = rows.loc["Xinglong"]
    xl_clear = sc.stations[[s.station.name for s in sc.stations].index("Xinglong")].weather.annual_clear_fraction
    lines += [
        "",
        f"\"Clear sky, scheduled\" is the upper bound with contention: every night clear, passes scheduled "
        f"({format_bits(rows.loc['all', 'clear_sky_bits'])}, below the ceiling of "
        f"{format_bits(k['clear_sky_ceiling_bits'])} because passes over the two stations conflict). "
        f"Xinglong keeps {100 * xl['mean_bits'] / xl['clear_sky_bits']:.0f} % of its clear-sky key although its "
        f"nights are {100 * xl_clear:.1f} % clear: when Nanshan is clouded out, Xinglong gets the contested passes. "
        "Per month: `weather-monthly.csv` (and the report's monthly plot).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import re

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = ap.parse_args(argv)
    readme = ROOT / "README.md"
    text = readme.read_text()
    pat = re.compile(r"(<!-- BEGIN year-table -->\n).*?(<!-- END year-table -->)", re.S)
    if not pat.search(text):
        raise SystemExit("README.md: markers <!-- BEGIN year-table --> / <!-- END year-table --> not found")
    new = pat.sub(lambda m: m.group(1) + year_table() + m.group(2), text)
    if args.check:
        if new != text:
            print("README.md year table is stale: run python tools/year_table.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    print("README.md year table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
