"""Regenerate the README's calibration, validation and LEO-versus-GEO tables and its network answer.

    python tools/validation_tables.py          # rewrite README.md in place
    python tools/validation_tables.py --check  # exit 1 if README.md is stale

Also writes configs/profiles/nanshan-2021-typical-pass.csv (the typical
2021 pass as a per-second profile for ``satqkd keyrate --profile``).
Runs the two calibration scenarios (configs/micius-2017-xinglong.yaml,
configs/micius-2021-nanshan.yaml) and the validation rows (equipment files
in configs/validation/ and the 2017 calibration pass) through the library
and the shipped network (configs/china-network.yaml: a week with weather)
and replaces the text between the ``<!-- BEGIN name -->`` / ``<!-- END
name -->`` markers of README.md.  Nothing is tuned per row: every loss is
the link budget of the named equipment file at the stated geometry.
Takes ~15 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from satqkd import link  # noqa: E402
from satqkd.config import load_scenario  # noqa: E402
from satqkd.pipeline import run  # noqa: E402

CONFIGS = ROOT / "configs"
R_EARTH = link.EARTH_RADIUS_KM
# Micius's mean height in the 2016-12-18 element set (485 x 503 km, system.md):
# the geometry of the 2017 validation rows.
HEIGHT_KM = 494.0


def _fmt_bits(x: float) -> str:
    return f"{x / 1e6:.2f} Mbit" if x >= 1e6 else f"{x / 1e3:.0f} kbit"


def calibration() -> str:
    s17 = run(load_scenario(CONFIGS / "micius-2017-xinglong.yaml"))
    sc21 = load_scenario(CONFIGS / "micius-2021-nanshan.yaml")
    s21 = run(sc21)
    fixed21 = run(dataclasses.replace(sc21, optimise=False))
    p = s17.passes.iloc[0]
    sec = s17.seconds
    near = sec.loc[sec["range_km"].idxmin(), "loss_db"]
    far = sec.loc[(sec["range_km"] - 1200.0).abs() < 15.0, "loss_db"].mean()
    p21 = s21.passes
    i = int(np.argmin(np.abs(p21["max_elevation_deg"] - 45.0)))
    t = p21.iloc[i]
    tf = fixed21.passes.set_index("pass_id").loc[t["pass_id"]]
    week = p21[(p21["max_elevation_deg"] > 40) & (p21["max_elevation_deg"] < 50)].sort_values("max_elevation_deg")
    rates = ", ".join(f"{r / 1e3:.1f}" for r in week["mean_key_rate_bps"])
    elevs = ", ".join(f"{e:.1f}°" for e in week["max_elevation_deg"])
    ratio = t["mean_key_rate_bps"] / p["mean_key_rate_bps"]
    return "\n".join([
        "| result | published | satqkd | tolerance |",
        "|---|---|---|---|",
        f"| 2016-12-19 Xinglong pass: closest approach | 645 km | {p['min_range_km']:.1f} km | 5 km |",
        f"| time inside 1,200 km | ~273 s | {p['key_window_s']:.0f} s | 10 s |",
        f"| loss rise, 645 → 1,200 km | ~10–13 dB | {far - near:.1f} dB ({near:.1f} → {far:.1f} dB with detection) | 10–13 dB |",
        f"| sifted bits (both bases) | 3,551,112 [unverified] | {_fmt_bits(p['sifted_bits'])} | ±30 % |",
        f"| final key | 300,939 bits [unverified] | {_fmt_bits(p['key_bits'])} ({p['mean_key_rate_bps'] / 1e3:.2f} kbit/s) | ±30 % |",
        f"| QBER | ~1.1 % | {100 * p['qber']:.2f} % | ±0.3 % |",
        f"| 2021 Nanshan, typical pass (culmination {t['max_elevation_deg']:.1f}°) | 47.8 kbit/s | "
        f"{t['mean_key_rate_bps'] / 1e3:.1f} kbit/s ({t['key_bits'] / 1e6:.1f} Mbit in {t['key_window_s']:.0f} s) | ±20 % |",
        f"| 2021 vs 2017 | > 40× | {ratio:.0f}× | |",
        "",
        f"The 2021 passes of that week culminating between 40° and 50° give {rates} kbit/s at "
        f"culminations of {elevs}. With the 2017 settings held fixed (no optimisation), the typical "
        f"2021 pass would give {tf['mean_key_rate_bps'] / 1e3:.1f} kbit/s instead of "
        f"{t['mean_key_rate_bps'] / 1e3:.1f}.",
    ])


def _elevation_at_range(range_km: float, height_km: float = HEIGHT_KM) -> float:
    return brentq(lambda e: float(link.slant_range_km(e, height_km)) - range_km, 1e-3, 90.0)


def _budget(setup, sat, range_km, elevation_deg):
    kwargs = {k: getattr(setup, k) for k in ("atmosphere", "turbulence", "sky") if getattr(setup, k) is not None}
    return link.link_budget(range_km, elevation_deg, sat.transmitter, setup.telescope, setup.detector,
                            site_height_m=setup.station.height_m, **kwargs).iloc[0]


def _equidistant_elevation(separation_km: float, range_km: float, height_km: float = HEIGHT_KM) -> float:
    """Elevation from either station of a satellite equidistant (range_km) from two stations."""
    half = separation_km / 2.0 / R_EARTH
    rs = R_EARTH + height_km

    def rng(x):
        c = np.arccos(np.cos(half) * np.cos(x))
        return np.sqrt(R_EARTH**2 + rs**2 - 2 * R_EARTH * rs * np.cos(c))

    x = brentq(lambda x: rng(x) - range_km, 0.0, 1.0)
    c = np.arccos(np.cos(half) * np.cos(x))
    return float(np.degrees(np.arctan2(rs * np.cos(c) - R_EARTH, rs * np.sin(c))))


def validation() -> str:
    rows = []
    # 1. Liao 2017: the loss along the calibration pass, between the fitted end points.
    s17 = run(load_scenario(CONFIGS / "micius-2017-xinglong.yaml"))
    sec = s17.seconds
    pts = []
    for r in (645.0, 800.0, 1000.0, 1200.0):
        near = sec.iloc[(sec["range_km"] - r).abs().argsort()[:2]]
        pts.append((r, near["loss_db"].mean(), near["elevation_deg"].mean()))
    base = pts[0][1]
    shape = ", ".join(f"{r:,.0f} km {l_:.1f} dB" for r, l_, _ in pts)
    range2 = ", ".join(f"+{20 * np.log10(r / 645.0):.1f}" for r, _, _ in pts[1:])
    ours = ", ".join(f"+{l_ - base:.1f}" for _, l_, _ in pts[1:])
    rows.append(
        f"| Liao et al. 2017, loss along the 2016-12-19 Xinglong pass (shape) | ~30 → ~40 dB with detection "
        f"[unverified, digitised], of the rise only ~5.4 dB is range² | {shape}; rise at 800/1,000/1,200 km: {ours} dB "
        f"(range² alone {range2}) | end points fitted (calibration); in between no published points here, so only "
        f"the split is checked: range² is half the rise, the rest atmosphere, seeing against the 9 µrad field, "
        f"refraction-corrected air mass | `configs/micius-2017-xinglong.yaml` (the calibration file itself) |")
    # 2. Yin et al. 2017 PRL: one 810 nm downlink to Delingha.
    sc = load_scenario(CONFIGS / "validation" / "yin-2017-prl-delingha.yaml")
    st, sat = sc.stations[0], sc.satellites[0]
    got = {}
    for r in (530.0, 1000.0):
        b = _budget(st, sat, r, _elevation_at_range(r))
        got[r] = (b["loss_db"], b["loss_db"] - b["detector_loss_db"])
    gap = 0.5 * ((29 - got[530.0][0]) + (36 - got[1000.0][0]))
    rows.append(
        f"| Yin et al., PRL 119, 200501 (2017): 810 nm downlink to Delingha | ~29 dB at 530 km, ~36 dB at 1,000 km "
        f"(rise 7 dB) | {got[530.0][0]:.1f} and {got[1000.0][0]:.1f} dB with detection "
        f"({got[530.0][1]:.1f} and {got[1000.0][1]:.1f} without); rise {got[1000.0][0] - got[530.0][0]:.1f} dB | "
        f"{gap:.1f} dB short on average, {7 - (got[1000.0][0] - got[530.0][0]):.1f} dB of it in the rise. Unknowns "
        f"that would explain it: the entanglement transmitters' real divergence and optics (a 2.3× wider beam is "
        f"+7 dB), the source-to-telescope coupling counted in the published loss, and more low-elevation loss "
        f"(aerosol, beam wander) than our clear-sky HV 5/7 night | `configs/validation/yin-2017-prl-delingha.yaml` |")
    # 3. Yin et al. 2017 Science: two downlinks, satellite equidistant from both stations.
    sc = load_scenario(CONFIGS / "validation" / "yin-2017-science-delingha-lijiang.yaml")
    (d, lj), sat = sc.stations, sc.satellites[0]
    sep = _great_circle_km(d.station, lj.station)
    tot = {}
    for summed in (1600.0, 2400.0):
        r = summed / 2.0
        e = _equidistant_elevation(sep, r)
        tot[summed] = (_budget(d, sat, r, e)["loss_db"] + _budget(lj, sat, r, e)["loss_db"], e)
    # The least kind geometry at 2,400 km: one station at 10 deg, the other at the rest of the range.
    r_low = float(link.slant_range_km(10.0, HEIGHT_KM))
    worst = max(_budget(a, sat, r_low, 10.0)["loss_db"]
                + _budget(b, sat, 2400.0 - r_low, _elevation_at_range(2400.0 - r_low))["loss_db"]
                for a, b in ((d, lj), (lj, d)))
    rows.append(
        f"| Yin et al., Science 356, 1140 (2017): two 810 nm downlinks, Delingha + Lijiang ({sep:,.0f} km apart) | "
        f"64 dB at 1,600 km summed range, 82 dB at 2,400 km | {tot[1600.0][0]:.1f} dB and {tot[2400.0][0]:.1f} dB "
        f"(satellite equidistant from both: {tot[1600.0][1]:.0f}° and {tot[2400.0][1]:.0f}° elevation); "
        f"{worst:.1f} dB at 2,400 km with one station at 10° | "
        f"{64 - tot[1600.0][0]:.0f} and {82 - tot[2400.0][0]:.0f} dB short: twice the single-link shortfall above "
        f"at short range, and the published 18 dB rise is {18 - (tot[2400.0][0] - tot[1600.0][0]):.0f} dB steeper "
        f"than ours -- the geometry of the real passes is not published here (one station at 10° does not raise it), so "
        f"the rest must be low-elevation loss our clear-sky model lacks, and the unknown transmitter divergence "
        f"and receiver efficiencies enter twice | "
        f"`configs/validation/yin-2017-science-delingha-lijiang.yaml` |")
    head = ["| published result | published | satqkd (no per-row tuning) | gap, and the unknown that would explain it | equipment |",
            "|---|---|---|---|---|"]
    return "\n".join(head + rows)


def _great_circle_km(a, b) -> float:
    la1, lo1, la2, lo2 = map(np.radians, (a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
    c = np.sin(la1) * np.sin(la2) + np.cos(la1) * np.cos(la2) * np.cos(lo2 - lo1)
    return float(R_EARTH * np.arccos(np.clip(c, -1, 1)))


def geo() -> str:
    df = link.geo_comparison()
    names = {"LEO": "LEO (Micius, Nanshan)", "LEO_low": "LEO, low in the pass", "GEO": "GEO (plausible payload, ours)"}
    out = ["| link | height | range | elevation | divergence (1/e² full) | transmit aperture | receive aperture | loss |",
           "|---|---|---|---|---|---|---|---|"]
    for k, r in df.iterrows():
        out.append(f"| {names[k]} | {r.height_km:,.0f} km | {r.range_km:,.0f} km | {r.elevation_deg:.1f}° | "
                   f"{r.divergence_urad:.3g} µrad | {r.tx_aperture_m:g} m | {r.rx_aperture_m:g} m | {r.loss_db:.1f} dB |")
    return "\n".join(out)


def _mbit(x: float) -> str:
    return f"{x / 1e6:,.2f}" if x < 1e7 else f"{x / 1e6:,.1f}"


def _resource_words(names: str) -> str:
    """", Xinglong's key with the satellite" for a station's key (``SAT>Station``), else ""."""
    parts = [n.split(">", 1)[1] for n in names.split("; ") if ">" in n]
    return f", {' and '.join(parts)}'s key with the satellite" if parts else ""


def network() -> str:
    """The README's answer for the shipped network: the Urumqi-Shanghai pair, with weather first."""
    from satqkd.network.report import format_bits, served_share

    sc = load_scenario(CONFIGS / "china-network.yaml")
    res = run(sc)
    net = res.network
    cap = net.capacity.set_index(["a", "b"])
    r = cap.loc[("Urumqi-U01", "Shanghai-U03")]
    j = net.joint
    links = net.links.set_index("link")
    sat = links[links["kind"] == "satellite"].iloc[0]
    backbone = links[links.index.str.contains(r"BJ-JN|JN-HF|HF-SH")]
    # The pair's shortest route (no other user's site), and the fibre links on it.
    from satqkd.network.capacity import shortest_route

    route = shortest_route(net.network, "Urumqi-U01", "Shanghai-U03")
    hops = [f"{a}~{b}" if f"{a}~{b}" in links.index else f"{b}~{a}" for a, b in zip(route[:-1], route[1:])]
    fibre = links.loc[[h for h in hops if links.at[h, "kind"] == "fibre"]]
    req = net.requests
    mine = req[(req["a"] == "Urumqi-U01") & (req["b"] == "Shanghai-U03")]
    status = {s: int((mine["status"] == s).sum()) for s in ("served", "waited", "failed", "pending")}
    waited = mine.loc[mine["status"] == "waited", "wait_s"]
    stores = net.stores.set_index("station")
    share = served_share(net).get(tuple(sorted(("Urumqi-U01", "Shanghai-U03"))), float("nan"))
    rates = net.links[net.links["kind"] == "fibre"]
    users = rates[rates["system"] == "chen2021_40mhz"]
    bb_rate = rates.loc[rates["link"].str.contains(r"BJ-JN|JN-HF|HF-SH"), "key_rate_bps"]
    span = rates[rates["length_km"] == 70.0]
    return "\n".join([
        f"**A Nanshan user and a Shanghai user** (Urumqi-U01 and Shanghai-U03: {r['great_circle_km']:,.0f} km apart "
        f"on the ground, {r['route_km']:,.0f} km of route over {r['hops']} hops; the satellite leg Nanshan–Xinglong, "
        f"{sat['great_circle_km']:,.0f} km, plus the {backbone['length_km'].sum():,.0f} km backbone make "
        f"{sat['great_circle_km'] + backbone['length_km'].sum():,.0f} km, which we read as the paper's \"up to 4,600 km\") "
        f"**can expect {_mbit(r['capacity_bits_per_day'])} Mbit of key a day with the stations' weather** "
        f"(P10–P90 {_mbit(r['capacity_p10_bits_per_day'])}–{_mbit(r['capacity_p90_bits_per_day'])} Mbit over "
        f"{j['years']:,} weather draws of the week), **limited by {r['bottleneck']}**{_resource_words(r['bottleneck'])} "
        f"(in {100 * r['bottleneck_share_of_years']:.0f} % of the draws). "
        f"{_mbit(r['capacity_clear_sky_bits_per_day'])} Mbit a day is the clear-sky ceiling, not a forecast. "
        f"**With all {j['pairs']} demands at once** the network carries {100 * j['share']:.0f} % of every demand "
        f"(P10–P90 {100 * j['share_p10']:.0f}–{100 * j['share_p90']:.0f} %; {100 * j['share_clear_sky']:.0f} % "
        f"under a clear sky), the shared bottleneck being {j['bottleneck']}; the pair's max-min fair share is "
        f"{100 * r['joint_share']:.0f} % of its {_mbit(r['demand_bits_per_day'])} Mbit a day "
        f"({_mbit(r['joint_bits_per_day'])} Mbit a day).",
        "",
        f"In the simulated week (one weather draw, seed {sc.weather.seed}) the relay had Xinglong's "
        f"{format_bits(stores.at['Xinglong', 'generated_bits'])} and Nanshan's "
        f"{format_bits(stores.at['Nanshan', 'generated_bits'])} on board; the pair's hourly requests: "
        f"{status['served']} served at once, {status['waited']} after waiting"
        + (f" (up to {waited.max() / 3600:.1f} h)" if len(waited) else "")
        + f", {status['failed']} failed, {status['pending']} pending at the end ({100 * share:.0f} % served). "
        f"Every fibre link on their route carries at least {format_bits(fibre['daily_volume_bits'].min())} a day "
        f"(their access links; backbone hops "
        f"{format_bits(backbone['daily_volume_bits'].min())}–{format_bits(backbone['daily_volume_bits'].max())}). "
        f"Fibre rates: backbone hop {bb_rate.min() / 1e3:,.0f}–{bb_rate.max() / 1e3:,.0f} kbit/s (4 systems), "
        f"the 70 km span {span['key_rate_bps'].min() / 1e3:,.0f} kbit/s, user links "
        f"{users['key_rate_bps'].min() / 1e3:,.0f}–{users['key_rate_bps'].max() / 1e3:,.0f} kbit/s; a finite-key "
        f"block lasts {rates.loc[bb_rate.index, 'block_s'].min():.0f}–{rates.loc[bb_rate.index, 'block_s'].max():.0f} s "
        f"on a backbone hop and {users['block_s'].min() / 60:.0f}–{users['block_s'].max() / 60:.0f} min on a user link.",
    ])


def write_profile_example(path: Path) -> None:
    """The typical 2021 pass as a per-second profile (the seconds.csv columns
    `satqkd keyrate --profile` reads), the README's --profile example."""
    s21 = run(load_scenario(CONFIGS / "micius-2021-nanshan.yaml"))
    p = s21.passes
    t = p.iloc[int(np.argmin(np.abs(p["max_elevation_deg"] - 45.0)))]
    g = s21.seconds[s21.seconds["pass_id"] == t["pass_id"]]
    out = g[["loss_db", "noise_prob", "elevation_deg"]].copy()
    out.insert(0, "time_s", np.arange(len(g), dtype=float))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.to_csv(index=False, float_format="%.6g"), encoding="utf-8")


def replace_block(text: str, name: str, body: str) -> str:
    pat = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
    if not pat.search(text):
        raise SystemExit(f"README.md: markers <!-- BEGIN {name} --> / <!-- END {name} --> not found")
    return pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = ap.parse_args(argv)
    readme = ROOT / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = old
    for name, fn in (("calibration-table", calibration), ("validation-table", validation), ("geo-table", geo),
                     ("network-answer", network)):
        new = replace_block(new, name, fn())
    example = CONFIGS / "profiles" / "nanshan-2021-typical-pass.csv"
    if not args.check:
        write_profile_example(example)
    if args.check:
        if new != old:
            print("README.md tables are stale: run python tools/validation_tables.py")
            return 1
        return 0
    if new != old:
        readme.write_text(new, encoding="utf-8")
    print("README.md tables up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
