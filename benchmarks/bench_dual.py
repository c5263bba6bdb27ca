"""Speed of the dual-downlink loss and key stages against today's downlink (not a test).

Run ``python benchmarks/bench_dual.py``.  The same synthetic seconds (seeded:
a 500 km orbit seen between 10 and 85 deg, a Moon up part of the time) are
timed two ways, downlink and dual downlink alternating, best of five:

1. **loss and key per second** (the figure of merit, target >= 0.5): the
   downlink's :func:`satqkd.link.link_budget` and per-second key
   (:func:`satqkd.keyrate.large_block_rate_bps`) against the dual
   downlink's two link budgets, two-link loss, coincidences, QBER and BBM92
   rate (:mod:`satqkd.entanglement`), arrays in and out;
2. **as the pipeline runs them**, tables in and out: the downlink's link
   stage (budget joined onto the seconds) and per-second key, against two
   link stages, the assembly of the two stations' tables, the pairing of
   their seconds (:func:`satqkd.passes.joint_seconds`), the per-second
   table (:func:`satqkd.entanglement.dual_seconds`) and the span's finite key.

Throughput is seconds of pass per CPU-second.  On a shared machine the
absolute numbers are noisy; the ratios much less so.  Prints readable lines,
then one JSON object as the last line.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from satqkd import entanglement as en
from satqkd.detector import DETECTOR_PRESETS
from satqkd.keyrate import Protocol, Source, large_block_rate_bps
from satqkd.link import Telescope, Transmitter, link_budget, slant_range_km
from satqkd.passes import joint_seconds

N_SECONDS = 200_000
REPEATS = 5


def synthetic_seconds(n: int, seed: int, station: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    elev = rng.uniform(10.0, 85.0, n)
    return pd.DataFrame({
        "satellite": "SAT", "station": station,
        "time_utc": pd.Timestamp("2021-05-20", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
        "elevation_deg": elev, "range_km": slant_range_km(elev, 500.0),
        "sun_altitude_deg": rng.uniform(-60.0, -18.0, n), "moon_altitude_deg": rng.uniform(-30.0, 40.0, n),
        "moon_illumination": np.full(n, 0.6), "moon_separation_deg": rng.uniform(5.0, 150.0, n),
    })


def budget(sec, tel, tx, det, height_m):
    b = link_budget(sec["range_km"].to_numpy(), sec["elevation_deg"].to_numpy(), tx, tel, det, site_height_m=height_m,
                    sun_altitude_deg=sec["sun_altitude_deg"].to_numpy(), moon_altitude_deg=sec["moon_altitude_deg"].to_numpy(),
                    moon_illumination=sec["moon_illumination"].to_numpy(),
                    moon_separation_deg=sec["moon_separation_deg"].to_numpy())
    b.index = sec.index
    return b


def link_stage(sec, tel, tx, det, height_m):
    """As satqkd.pipeline.link_stage: the budget joined onto the seconds."""
    b = budget(sec, tel, tx, det, height_m)
    return sec.join(b.drop(columns=["range_km", "elevation_deg"]))


def downlink(sec, tel, tx, det, src, prot):
    s = link_stage(sec, tel, tx, det, 2034.0)
    return float(large_block_rate_bps(s["efficiency"].to_numpy(), s["noise_prob"].to_numpy(), src, det, prot).sum())


def dual_links(sec_a, sec_b, tel_a, tel_b, tx, det):
    """The two stations' link stages (in a run: two units)."""
    return link_stage(sec_a, tel_a, tx, det, 3153.0), link_stage(sec_b, tel_b, tx, det, 2034.0)


def dual_key(assembled, det, link):
    """The dual stage on the assembled per-second table: pairing, rates, the span's finite key."""
    joint = joint_seconds(assembled, link.station_a, link.station_b,
                          columns=["elevation_deg", "range_km", "loss_db", "efficiency", "background_cps"])
    per = en.dual_seconds(joint, link, det, det)
    e = float((per["qber"] * per["sifted_cps"]).sum() / per["sifted_cps"].sum())
    return float(en.finite_key_bits(per["sifted_cps"].sum(), e, link.protocol)), float(per["key_rate_bps"].sum())


def physics_downlink(sec, tel, tx, det, src, prot):
    """Loss and key per second, arrays in and out: the link budget and the per-second key."""
    b = budget(sec, tel, tx, det, 2034.0)
    return float(large_block_rate_bps(b["efficiency"].to_numpy(), b["noise_prob"].to_numpy(), src, det, prot).sum())


def physics_dual(sec_a, sec_b, tel_a, tel_b, tx, det, link):
    """Loss and key per second of the dual downlink, arrays in and out: two
    link budgets, the two-link loss, coincidences, QBER and the BBM92 rate."""
    ba, bb = budget(sec_a, tel_a, tx, det, 3153.0), budget(sec_b, tel_b, tx, det, 2034.0)
    loss_db = ba["loss_db"].to_numpy() + bb["loss_db"].to_numpy()
    dark = det.dark_count_prob / det.window_s
    true, acc = en.coincidence_rates(link.source.pair_rate_hz, ba["efficiency"].to_numpy(), bb["efficiency"].to_numpy(),
                                     ba["background_cps"].to_numpy() + dark, bb["background_cps"].to_numpy() + dark,
                                     link.protocol.coincidence_window_s)
    e = en.qber(true, acc, link.source.intrinsic_qber)
    sifted = en.sifting_factor(det.basis_prob_x, det.basis_prob_x) * (true + acc)
    return float(en.asymptotic_key_rate_bps(sifted, e, link.protocol.f_ec).sum()) + 0.0 * float(loss_db.sum())


def alternate(fns, n):
    """Best CPU time of each function over REPEATS alternating rounds (after a warm-up): seconds per CPU-second."""
    outs = [fn() for fn in fns]
    best = [np.inf] * len(fns)
    for _ in range(REPEATS):
        for k, fn in enumerate(fns):
            c0 = time.process_time()
            fn()
            best[k] = min(best[k], time.process_time() - c0)
    return [n / b for b in best], outs


def main() -> dict:
    det = DETECTOR_PRESETS["si_apd_810"]()
    tx = Transmitter.micius_entanglement()
    sec_a = synthetic_seconds(N_SECONDS, 1, "Delingha")
    sec_b = synthetic_seconds(N_SECONDS, 2, "Nanshan")
    tel_a, tel_b = Telescope.delingha(), Telescope.nanshan()
    src, prot = Source.micius_2017(), Protocol()
    link = en.DualDownlink("D-N", "Delingha", "Nanshan", None, en.EntangledSource.micius_2020(), en.BBM92.yin_2020())

    # 1. The loss and key stages per second (the figure of merit).
    (down, dual), (down_bits, dual_bits) = alternate([
        lambda: physics_downlink(sec_b, tel_b, tx, det, src, prot),
        lambda: physics_dual(sec_a, sec_b, tel_a, tel_b, tx, det, link),
    ], N_SECONDS)
    ratio = dual / down
    print(f"loss + key per second, downlink: {down:,.0f} seconds per CPU-second")
    print(f"loss + key per second, dual downlink (two links): {dual:,.0f} seconds per CPU-second")
    print(f"ratio dual / downlink: {ratio:.2f} (target >= 0.50; {N_SECONDS:,} seconds, best of {REPEATS} alternating)")

    # 2. As the pipeline runs them: tables in and out (link stages joined onto
    #    the seconds; for the dual downlink also the pairing of the two
    #    stations' seconds, the per-second table and the span's finite key,
    #    with the assembly of the two stations' tables).
    def pipeline_dual():
        parts = dual_links(sec_a, sec_b, tel_a, tel_b, tx, det)
        return dual_key(pd.concat(parts, ignore_index=True), det, link)

    (down_t, dual_t), (_, (fin, asym)) = alternate([
        lambda: downlink(sec_b, tel_b, tx, det, src, prot), pipeline_dual], N_SECONDS)
    print(f"as tables (pipeline shape): downlink {down_t:,.0f}, dual {dual_t:,.0f} seconds per CPU-second "
          f"(ratio {dual_t / down_t:.2f})")
    print(f"  (checksum: downlink {down_bits:.4e} bits; dual asymptotic {dual_bits:.4e} = {asym:.4e}, finite {fin:.4e})")
    figures = {"n_seconds": N_SECONDS, "downlink_seconds_per_cpu_s": round(down), "dual_seconds_per_cpu_s": round(dual),
               "dual_over_downlink": round(ratio, 3), "target_ratio": 0.5, "meets_target": bool(ratio >= 0.5),
               "tables_dual_over_downlink": round(dual_t / down_t, 3)}
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
