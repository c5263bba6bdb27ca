"""Pass-engine speed and memory, as ratios against baselines run in the same process.

1. **Per-second look angles** of one LEO from one station, 1 M seconds:
   satqkd (``Clock`` + ``satellite_itrs_km_at`` + ``look_angles``) against
   (a) raw python-sgp4 ``sgp4_array`` + numpy (the same GMST-1982 rotation
   and ENU projection written inline: the physical limit), (b) skyfield with
   the Earth-fixed shortcut its own ``find_events`` uses (``gast = 0``,
   ``M = I``: precession-nutation skipped), and (c) skyfield's full
   ``(sat - topos).at(t).altaz()``.  Skyfield is timed on a tenth and scaled.
2. **A real mixed catalogue**: the 210 CelesTrak element sets of
   ``tests/data/celestrak-2022-02-04.tle`` (LEO, MEO, GEO/IGSO, HEO up to
   e = 0.74) over 4 stations for 3 days, passes above 10 deg: satqkd's one
   engine against skyfield ``find_events`` on the same satellites, stations
   and span; with ``--oracle``, both pass lists are compared with a
   brute-force oracle (python-sgp4 + numpy at every second).
3. **Synthetic LEO constellation**: ``--constellation`` sun-synchronous
   satellites x 10 stations x 7 days against ``find_events`` on a tenth of
   the satellites (scaled).
4. **GEO for a year** over one station, night and Moon constraints: time
   and peak memory (a child process, so the number is its own).
5. **A year of one LEO over 2 stations** with the per-second series of
   every usable night window, against ``find_events`` (rise/culmination/set
   only) for the same satellite, stations and span.
6. **The same year from the command line**, as whole processes (imports
   and CSV output included): ``satqkd passes --days 365`` with two stations
   and ``--format csv`` against a plain skyfield process running
   ``find_events`` for the same satellite, stations and span and writing its
   events as CSV; alternating ``--cli-repeat`` times, best of each and the
   spread of the pairs, wall and CPU time (``--cli``: this section only).

Every timing is the best of ``--repeat`` runs, alternating ours and the
baseline so that load from other processes hits both.  Prints readable
lines, then one JSON object on the last line.

Usage: python benchmarks/bench_passes.py [--repeat 3] [--oracle] [--constellation 100] [--quick] [--cli [--cli-repeat 5]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# One thread for numpy's BLAS, as for skyfield: compare like with like.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from skyfield.api import EarthSatellite, wgs84
from skyfield.sgp4lib import theta_GMST1982
from sgp4.api import SatrecArray

from satqkd import sky
from satqkd.constraints import Constraints
from satqkd.elements import load_elements, sun_synchronous
from satqkd.geometry import Clock, look_angles, satellite_itrs_km_at, seconds_to_time
from satqkd.passes import find_passes
from satqkd.stations import STATION_PRESETS, Station, parse_station

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "tests" / "data" / "celestrak-2022-02-04.tle"
L1 = "1 41731U 16051A   21117.42314584  .00000696  00000-0  30260-4 0  9998"
L2 = "2 41731  97.3499  30.8507 0012844 347.0485 124.2616 15.25507799261429"
CATALOGUE_STATIONS = ["nanshan", "xinglong", "48.0,11.0", "-31.3,149.1,1100"]
EXTRA_SITES = ["48.0,11.0", "-30.2,-70.7,2200", "35.0,-106.0,1800", "-31.3,149.1,1100", "28.3,-16.5,2400"]


def alternate(fns, repeat):
    """Best wall time of each function, run in turn ``repeat`` times."""
    best = [float("inf")] * len(fns)
    out = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            out[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best, out


def topos_of(station):
    return wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)


def station_of(text):
    return STATION_PRESETS[text]() if text in STATION_PRESETS else parse_station(text)


def events_passes(sats, stations, t0, t1, degrees):
    """skyfield find_events for every pair: the number of rises."""
    n = 0
    topos = [topos_of(st) for st in stations]
    for s in sats:
        for tp in topos:
            _, ev = s.find_events(tp, t0, t1, altitude_degrees=degrees)
            n += int((ev == 0).sum())
    return n


# -- 1. look angles -----------------------------------------------------------

def raw_look_angles(sat, station, jd_whole, utc_fraction, ut1_fraction):
    """python-sgp4 + numpy, nothing else: SGP4, GMST-1982 rotation, ENU."""
    e, r, v = sat.model.sgp4_array(jd_whole, utc_fraction)
    theta, theta_dot = theta_GMST1982(jd_whole, ut1_fraction)
    c, s = np.cos(theta), np.sin(theta)
    x = c * r[:, 0] + s * r[:, 1]
    y = -s * r[:, 0] + c * r[:, 1]
    omega = theta_dot / 86400.0
    vx = c * v[:, 0] + s * v[:, 1] + omega * y
    vy = -s * v[:, 0] + c * v[:, 1] - omega * x
    d = np.array([x, y, r[:, 2]]) - station.itrs_km[:, None]
    enu = np.einsum("ij,jn->in", station.enu_matrix, d)
    rng = np.sqrt(np.einsum("ij,ij->j", d, d))
    el = np.degrees(np.arcsin(enu[2] / rng))
    az = np.degrees(np.arctan2(enu[0], enu[1])) % 360.0
    rate = np.einsum("ij,ij->j", d, np.array([vx, vy, v[:, 2]])) / rng
    return el, az, rng, rate


def bench_look_angles(args, ts):
    sat = EarthSatellite(L1, L2, "MICIUS", ts)
    station = Station.nanshan()
    topos = topos_of(station)
    t0 = ts.utc(2021, 4, 27)
    n = args.samples
    offsets = np.arange(n, dtype=float)
    clock = Clock(t0, 0.0, float(n))
    # A raw user's time arguments: the start's UTC and UT1 day fractions
    # plus the offsets (no leap second in the span).
    whole0, utc0, ut10 = (a[0] for a in clock.args(np.zeros(1)))

    def ours():
        r, v, _ = satellite_itrs_km_at(sat, clock, offsets)
        return look_angles(station, r, v)

    def raw():
        days = offsets / 86400.0
        return raw_look_angles(sat, station, np.full(n, whole0), utc0 + days, ut10 + days)

    n_ref = max(n // 10, 1000)
    identity = np.identity(3)

    def shortcut():
        t = seconds_to_time(t0, offsets[:n_ref])
        t.gast = t.tt * 0.0
        t.M = t.MT = identity
        return (sat - topos).at(t).altaz()

    def full():
        # A fresh Time each run: skyfield caches its rotation matrices on it.
        return (sat - topos).at(seconds_to_time(t0, offsets[:n_ref])).altaz()

    (ours_s, raw_s, short_s, full_s), (la, raw_out, _, _) = alternate([ours, raw, shortcut, full], args.repeat)
    short_s *= n / n_ref
    full_s *= n / n_ref
    agree = float(np.max(np.abs(la.elevation_deg - raw_out[0])))
    print(f"per-second look angles, {n:,} samples: satqkd {n / ours_s / 1e6:.2f} M/s; raw python-sgp4 + numpy "
          f"{n / raw_s / 1e6:.2f} M/s (satqkd at {raw_s / ours_s:.0%} of it; elevations agree to {agree:.1e} deg); "
          f"skyfield Earth-fixed shortcut {n / short_s / 1e3:.0f} k/s ({short_s / ours_s:.0f}x slower); "
          f"skyfield altaz {n / full_s / 1e3:.0f} k/s ({full_s / ours_s:.0f}x slower)")
    return {
        "look_angles_per_s": round(n / ours_s),
        "look_angles_raw_sgp4_per_s": round(n / raw_s),
        "look_angles_fraction_of_raw": round(raw_s / ours_s, 3),
        "look_angles_skyfield_shortcut_per_s": round(n / short_s),
        "look_angles_skyfield_altaz_per_s": round(n / full_s),
    }


# -- 2. real catalogue -------------------------------------------------------

def oracle_passes(sats, stations, t0, span_s, degrees, chunk_s=21600):
    """Brute force: python-sgp4 (SatrecArray) + numpy at every whole second;
    returns the set of (satellite index, station index, first second above)
    and the number of intervals."""
    clock = Clock(t0, 0.0, span_s)
    array = SatrecArray([s.model for s in sats])
    found = set()
    prev_up = [np.zeros(len(sats), bool) for _ in stations]
    offsets_all = np.arange(0.0, np.floor(span_s) + 1.0)
    for lo in range(0, offsets_all.size, chunk_s):
        off = offsets_all[lo:lo + chunk_s]
        whole, utc, ut1 = clock.args(off)
        e, r, _ = array.sgp4(whole, utc)
        theta, _ = theta_GMST1982(whole, ut1)
        c, s = np.cos(theta), np.sin(theta)
        x = c * r[..., 0] + s * r[..., 1]
        y = -s * r[..., 0] + c * r[..., 1]
        for j, st in enumerate(stations):
            d = np.stack([x, y, r[..., 2]]) - st.itrs_km[:, None, None]
            up_dir = st.enu_matrix[2]
            el = np.degrees(np.arcsin(np.einsum("i,isn->sn", up_dir, d) / np.sqrt(np.einsum("isn,isn->sn", d, d))))
            up = el >= degrees
            rises = up & ~np.concatenate([prev_up[j][:, None], up[:, :-1]], axis=1)
            for i, k in zip(*np.nonzero(rises)):
                found.add((int(i), j, float(off[k])))
            prev_up[j] = up[:, -1]
    return found


def bench_catalogue(args, ts):
    sats = load_elements(CATALOGUE)
    stations = [station_of(s) for s in CATALOGUE_STATIONS]
    t0 = ts.utc(2022, 2, 5)
    days = 1.0 if args.quick else 3.0
    t1 = ts.tt_jd(t0.tt + days)
    cons = Constraints(min_elevation_deg=10.0, night="none")

    def ours():
        return find_passes(sats, stations, t0, t1, cons, per_second=False)

    def theirs():
        return events_passes(sats, stations, t0, t1, 10.0)

    (ours_s, theirs_s), (fc, n_events) = alternate([ours, theirs], args.repeat)
    print(f"real catalogue ({len(sats)} CelesTrak sets of 2022-02-04: LEO, MEO, GEO/IGSO, HEO) x {len(stations)} "
          f"stations x {days:g} days above 10 deg: satqkd {ours_s:.2f} s, {len(fc.passes):,} passes; skyfield "
          f"find_events {theirs_s:.2f} s, {n_events:,} rises; ratio satqkd/find_events {ours_s / theirs_s:.2f}")
    out = {"catalogue_satellites": len(sats), "catalogue_passes": int(len(fc.passes)),
           "catalogue_s": round(ours_s, 3), "catalogue_find_events_s": round(theirs_s, 3),
           "catalogue_ratio_vs_find_events": round(ours_s / theirs_s, 3), "catalogue_find_events_rises": n_events}
    if args.oracle:
        t = time.perf_counter()
        span_s = days * 86400.0
        found = oracle_passes(sats, stations, t0, span_s, 10.0)
        name_idx = {s.name: i for i, s in enumerate(sats)}
        st_idx = {s.name: j for j, s in enumerate(stations)}
        start = np.datetime64(t0.utc_datetime().replace(tzinfo=None), "ms")

        def offset_s(column):
            return (fc.passes[column].dt.tz_localize(None).to_numpy().astype("datetime64[ms]") - start) / np.timedelta64(1, "s")

        rise_s, set_s = offset_s("rise_utc"), offset_s("set_utc")
        # A pass shorter than a second holds no whole second: the oracle cannot
        # see it.  Rise labels are rounded to the millisecond.
        ours_by = {}
        for a, b, r, s_ in zip(fc.passes["satellite"], fc.passes["station"], rise_s, set_s):
            if np.floor(s_) >= np.ceil(r - 1e-3) or np.floor(s_ + 1e-3) >= np.ceil(r):
                ours_by.setdefault((name_idx[a], st_idx[b]), []).append(r)
        oracle_by = {}
        for i, j, first in found:
            oracle_by.setdefault((i, j), []).append(first)
        missed = extra = 0
        for key in set(ours_by) | set(oracle_by):
            ours_r, theirs = sorted(ours_by.get(key, [])), sorted(oracle_by.get(key, []))
            matched = sum(any(f - 1.0 - 1e-3 <= r <= f + 1e-3 for r in ours_r) for f in theirs)
            missed += len(theirs) - matched
            extra += len(ours_r) - matched
        print(f"  brute-force oracle (every second, {time.perf_counter() - t:.0f} s): {len(found):,} passes; "
              f"satqkd missed {missed}, extra {extra}")
        out.update({"catalogue_oracle_passes": len(found), "catalogue_missed": missed, "catalogue_extra": extra})
    return out


# -- 3. synthetic constellation ----------------------------------------------

def bench_constellation(args, ts):
    n = args.constellation
    t0 = ts.utc(2026, 11, 1)
    days = 2.0 if args.quick else 7.0
    t1 = ts.tt_jd(t0.tt + days)
    sats = [sun_synchronous(450.0 + 150.0 * i / max(n - 1, 1), (7.3 * i) % 24.0, t0, name=f"SSO-{i:03d}",
                            mean_anomaly_deg=(137.5 * i) % 360.0) for i in range(n)]
    stations = [make() for make in STATION_PRESETS.values()] + [parse_station(s) for s in EXTRA_SITES]
    cons = Constraints(min_elevation_deg=10.0, night="none")
    sub = sats[:: 10] if n >= 10 else sats
    scale = n / len(sub)
    (ours_s, theirs_s), (fc, _) = alternate(
        [lambda: find_passes(sats, stations, t0, t1, cons, per_second=False),
         lambda: events_passes(sub, stations, t0, t1, 10.0)], args.repeat)
    theirs_s *= scale
    print(f"synthetic LEO: {n} satellites x {len(stations)} stations x {days:g} days: satqkd {ours_s:.2f} s "
          f"({len(fc.passes):,} passes); skyfield find_events {theirs_s:.2f} s (scaled from {len(sub)} satellites); "
          f"ratio {ours_s / theirs_s:.2f}")
    return {"constellation_s": round(ours_s, 3), "constellation_find_events_s": round(theirs_s, 3),
            "constellation_ratio_vs_find_events": round(ours_s / theirs_s, 3), "constellation_passes": int(len(fc.passes))}


# -- 4. GEO for a year -------------------------------------------------------

# Peak memory is read from /proc/self/status (VmHWM) in a child process: it
# is the child's own, unlike ru_maxrss, which a forked child inherits.
MEMORY = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

GEO_CHILD = MEMORY + """
import time, json
from satqkd import sky
from satqkd.constraints import Constraints
from satqkd.elements import geostationary
from satqkd.passes import find_passes
from satqkd.stations import Station
ts = sky.timescale()
t0, t1 = ts.utc(2026, 1, 1), ts.utc(2027, 1, 1)
sat = geostationary(100.0, t0)
find_passes(sat, Station.nanshan(), t0, ts.utc(2026, 1, 2), Constraints())  # imports, caches
t = time.perf_counter()
fc = find_passes(sat, Station.nanshan(), t0, t1,
                 Constraints(min_elevation_deg=10.0, night="nautical", moon_separation_deg=20.0), per_second=False)
s = time.perf_counter() - t
print(json.dumps({"s": s, "rss_mb": peak_mb(), "passes": len(fc.passes), "usable_s": int(fc.passes["usable_s"].sum())}))
"""

CATALOGUE_CHILD = MEMORY + """
import json, sys
from satqkd import sky
from satqkd.constraints import Constraints
from satqkd.elements import load_elements
from satqkd.passes import find_passes
from satqkd.stations import STATION_PRESETS, parse_station
ts = sky.timescale()
sats = load_elements(sys.argv[1])
stations = [STATION_PRESETS[s]() if s in STATION_PRESETS else parse_station(s) for s in sys.argv[3:]]
t0 = ts.utc(2022, 2, 5)
fc = find_passes(sats, stations, t0, ts.tt_jd(t0.tt + float(sys.argv[2])),
                 Constraints(min_elevation_deg=10.0, night="nautical", moon_separation_deg=20.0), per_second=False)
print(json.dumps({"rss_mb": peak_mb(), "passes": len(fc.passes), "usable_s": int(fc.passes["usable_s"].sum())}))
"""


def bench_geo_year(args):
    out = subprocess.run([sys.executable, "-c", GEO_CHILD], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"GEO over one station for a year (night, Moon separation): {r['s']:.2f} s, peak RSS {r['rss_mb']:.0f} MB "
          f"(the whole process), {r['passes']} pass(es), {r['usable_s']:,} usable seconds")
    days = "1" if args.quick else "3"
    out = subprocess.run([sys.executable, "-c", CATALOGUE_CHILD, str(CATALOGUE), days, *CATALOGUE_STATIONS],
                         capture_output=True, text=True, check=True)
    c = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"real catalogue x {len(CATALOGUE_STATIONS)} stations x {days} days, night and Moon constraints: "
          f"{c['passes']:,} passes, {c['usable_s']:,} usable seconds, peak RSS {c['rss_mb']:.0f} MB (the whole process)")
    return {"geo_year_s": round(r["s"], 3), "geo_year_peak_rss_mb": round(r["rss_mb"]),
            "catalogue_peak_rss_mb": round(c["rss_mb"])}


# -- 5. a year of one LEO with per-second series -------------------------------

def bench_leo_year(args, ts):
    sat = EarthSatellite(L1, L2, "MICIUS", ts)
    stations = [Station.nanshan(), Station.xinglong()]
    t0 = ts.utc(2021, 4, 27)
    days = 60.0 if args.quick else 365.0
    t1 = ts.tt_jd(t0.tt + days)
    cons = Constraints(min_elevation_deg=10.0, night="nautical")
    (ours_s, theirs_s), (fc, _) = alternate(
        [lambda: find_passes(sat, stations, t0, t1, cons, allow_stale_elements=True),
         lambda: events_passes([sat], stations, t0, t1, 10.0)], args.repeat)
    print(f"{days:g} days of one LEO over 2 stations: satqkd {ours_s:.2f} s ({len(fc.passes)} night passes, "
          f"{len(fc.seconds):,} per-second samples); skyfield find_events {theirs_s:.2f} s (events only); "
          f"ratio {ours_s / theirs_s:.2f}")
    return {"leo_year_s": round(ours_s, 3), "leo_year_find_events_s": round(theirs_s, 3),
            "leo_year_ratio_vs_find_events": round(ours_s / theirs_s, 3),
            "leo_year_passes": int(len(fc.passes)), "leo_year_seconds": int(len(fc.seconds))}


# -- 6. the same year from the command line, as processes ----------------------

FIND_EVENTS_CHILD = r"""
import sys
from skyfield.api import EarthSatellite, load, wgs84
tle, start, days = sys.argv[1], sys.argv[2], float(sys.argv[3])
ts = load.timescale(builtin=True)
lines = [l for l in open(tle).read().splitlines() if l.strip()]
sat = EarthSatellite(lines[-2], lines[-1], lines[0] if len(lines) > 2 else "SAT", ts)
y, m, d = (int(x) for x in start.split("-"))
t0 = ts.utc(y, m, d)
t1 = ts.tt_jd(t0.tt + days)
rows = ["satellite,station,event,time_utc"]
for spec in sys.argv[4:]:
    name, lat, lon, h = spec.split(",")
    t, events = sat.find_events(wgs84.latlon(float(lat), float(lon), elevation_m=float(h)), t0, t1, altitude_degrees=10.0)
    rows += [f"{sat.name},{name},{e},{iso}" for e, iso in zip(events, t.utc_iso())]
sys.stdout.write("\n".join(rows) + "\n")
"""


def _child(command):
    """Wall and CPU (user + system) seconds of one child process, and its stdout."""
    a = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:4]}... exited with {proc.returncode}")
    return time.perf_counter() - a, usage.ru_utime + usage.ru_stime, out


def bench_cli_year(args):
    """``satqkd passes --days 365`` (one LEO, 2 stations, CSV; defaults: above
    10 deg at nautical night) against a plain skyfield process that runs
    ``find_events`` (above 10 deg) for the same satellite, stations and span
    and writes the events as CSV: whole processes, imports included."""
    tle = ROOT / "ephemeris" / "micius-2021-04-27.tle"
    days = "60" if args.quick else "365"
    stations = [Station.nanshan(), Station.xinglong()]
    ours = [sys.executable, "-m", "satqkd", "passes", "--tle", str(tle), "--station", "nanshan", "--station", "xinglong",
            "--start", "2021-04-27", "--days", days, "--format", "csv", "--allow-stale-elements", "--quiet"]
    theirs = [sys.executable, "-c", FIND_EVENTS_CHILD, str(tle), "2021-04-27", days,
              *[f"{st.name},{st.latitude_deg!r},{st.longitude_deg!r},{st.height_m!r}" for st in stations]]
    runs = {"satqkd": [], "find_events": []}
    for _ in range(args.cli_repeat):
        for name, command in (("satqkd", ours), ("find_events", theirs)):
            wall, cpu, out = _child(command)
            runs[name].append((wall, cpu))
    n_passes = out_ours = None
    _, _, out_ours = _child(ours)
    n_passes = len(out_ours.decode().splitlines()) - 1
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in runs.items()}
    ratio_wall = best["satqkd"][0] / best["find_events"][0]
    ratio_cpu = best["satqkd"][1] / best["find_events"][1]
    pair_ratios = [a[0] / b[0] for a, b in zip(runs["satqkd"], runs["find_events"])]
    print(f"CLI, {days} days of one LEO over 2 stations as CSV ({n_passes} night passes): satqkd passes best "
          f"{best['satqkd'][0]:.2f} s wall / {best['satqkd'][1]:.2f} s CPU; skyfield find_events process best "
          f"{best['find_events'][0]:.2f} s / {best['find_events'][1]:.2f} s; ratio {ratio_wall:.2f} (wall, best of "
          f"{args.cli_repeat}), {ratio_cpu:.2f} (CPU); alternating pairs {min(pair_ratios):.2f}-{max(pair_ratios):.2f}")
    return {"cli_year_s": round(best["satqkd"][0], 3), "cli_year_cpu_s": round(best["satqkd"][1], 3),
            "cli_year_find_events_s": round(best["find_events"][0], 3),
            "cli_year_find_events_cpu_s": round(best["find_events"][1], 3),
            "cli_year_ratio": round(ratio_wall, 3), "cli_year_ratio_cpu": round(ratio_cpu, 3),
            "cli_year_pair_ratios": [round(r, 3) for r in pair_ratios],
            "cli_year_runs_s": {k: [[round(w, 3), round(c, 3)] for w, c in v] for k, v in runs.items()},
            "cli_year_passes": n_passes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--constellation", type=int, default=100)
    parser.add_argument("--oracle", action="store_true", help="check the catalogue passes against brute force")
    parser.add_argument("--quick", action="store_true", help="shorter spans (a smoke test, not the targets)")
    parser.add_argument("--cli", action="store_true", help="only section 6: the CLI year against find_events, as processes")
    parser.add_argument("--cli-repeat", type=int, default=5, help="alternating runs of section 6")
    args = parser.parse_args()
    if args.cli:
        print(json.dumps(bench_cli_year(args)))
        return

    ts = sky.timescale()
    # Warm imports and caches on both sides before timing anything.
    warm = EarthSatellite(L1, L2, "MICIUS", ts)
    find_passes(warm, Station.nanshan(), ts.utc(2021, 4, 27), ts.utc(2021, 4, 27, 3))
    warm.find_events(topos_of(Station.nanshan()), ts.utc(2021, 4, 27), ts.utc(2021, 4, 27, 3))

    result = {}
    result.update(bench_look_angles(args, ts))
    result.update(bench_catalogue(args, ts))
    result.update(bench_constellation(args, ts))
    result.update(bench_geo_year(args))
    result.update(bench_leo_year(args, ts))
    result.update(bench_cli_year(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
