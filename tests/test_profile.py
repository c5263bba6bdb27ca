"""satqkd keyrate --profile: the finite key of a measured per-second pass.

The profile's key must be the key the library gives for the same slots (an
independent call of finite_key / optimise_pass), and feeding a pass of our
own seconds.csv back must give that pass's key again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satqkd.cli import main
from satqkd.config import load_system
from satqkd.errors import SatqkdError
from satqkd.keyrate import finite_key, optimise_pass, profile_keys, read_profile

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = ROOT / "configs" / "systems" / "micius-2021-nanshan.yaml"


def _profile(n=240):
    t = np.arange(n, dtype=float)
    elev = 15.0 + 30.0 * np.sin(np.pi * t / (n - 1))
    loss = 26.0 + 10.0 * (1.0 - np.sin(np.pi * t / (n - 1)))
    noise = np.full(n, 5e-7)
    return pd.DataFrame({"time_s": t, "loss_db": loss, "noise_prob": noise, "elevation_deg": elev})


def test_profile_key_equals_the_library_key(tmp_path, capsys):
    """Fixed settings: finite_key over all slots; --optimise: optimise_pass
    with the window by elevation; both through the CLI as JSON."""
    df = _profile()
    path = tmp_path / "pass.csv"
    df.to_csv(path, index=False)
    s = load_system(SYSTEM)
    eta = 10 ** (-df.loss_db.to_numpy() / 10)
    fixed = finite_key(eta, df.noise_prob.to_numpy(), s.source, s.detector, s.protocol)
    best = optimise_pass(eta, df.noise_prob.to_numpy(), s.source, s.detector, s.protocol,
                         elevation_deg=df.elevation_deg.to_numpy())
    for args, want in (([], fixed), (["--optimise"], best)):
        rc = main(["keyrate", "--system", str(SYSTEM), "--profile", str(path), "--format", "json", *args])
        out, err = capsys.readouterr()
        assert rc == 0, err
        row = json.loads(out)[0]
        assert row["key_bits"] == pytest.approx(want.key_bits, rel=1e-9)
        assert row["key_window_s"] == pytest.approx(want.window_s)
        assert row["key_basis"] == "Z"  # the 10:90 receiver
        assert row["large_block_bits"] >= row["key_bits"]
    assert best.key_bits > fixed.key_bits


def test_channel_loss_and_efficiency_columns_agree(tmp_path):
    """channel_loss_db excludes the detector (efficiency applied on top); efficiency is total."""
    df = _profile(60)
    s = load_system(SYSTEM)
    det_db = -10 * math.log10(s.detector.efficiency)
    a = profile_keys(df, s.source, s.detector, s.protocol)
    b = profile_keys(df.assign(channel_loss_db=df.loss_db - det_db).drop(columns="loss_db"), s.source, s.detector, s.protocol)
    c = profile_keys(df.assign(efficiency=10 ** (-df.loss_db / 10)).drop(columns="loss_db"), s.source, s.detector, s.protocol)
    assert b.key_bits[0] == pytest.approx(a.key_bits[0], rel=1e-9)
    assert c.key_bits[0] == pytest.approx(a.key_bits[0], rel=1e-9)


def test_several_passes_and_a_slot_length(tmp_path):
    """pass_id splits the file into blocks; 2 s slots double the pulses per slot."""
    one = _profile(100)
    two = _profile(100).assign(time_s=lambda d: d.time_s * 2.0)
    df = pd.concat([one.assign(pass_id=1), two.assign(pass_id=2)], ignore_index=True)
    s = load_system(SYSTEM)
    out = profile_keys(df, s.source, s.detector, s.protocol)
    assert list(out.pass_id) == ["1", "2"] and list(out.slot_s) == [1.0, 2.0]
    eta = 10 ** (-one.loss_db.to_numpy() / 10)
    want = finite_key(eta, one.noise_prob.to_numpy(), s.source, s.detector, s.protocol, slot_s=2.0)
    assert out.key_bits[1] == pytest.approx(want.key_bits, rel=1e-9)


@pytest.mark.parametrize("mangle, expect", [
    (lambda d: d.drop(columns="time_s"), "time_s"),
    (lambda d: d.drop(columns="loss_db"), "loss_db/channel_loss_db/efficiency"),
    (lambda d: d.assign(efficiency=0.5), "expected exactly one"),
    (lambda d: d.assign(loss_db=-1.0), "loss_db: expected losses >= 0 dB"),
    (lambda d: d.assign(noise_prob="x"), "noise_prob: expected a finite number"),
    (lambda d: d.assign(time_s=d.time_s ** 1.5), "evenly spaced"),
])
def test_bad_profiles_are_one_line_errors(tmp_path, capsys, mangle, expect):
    path = tmp_path / "bad.csv"
    mangle(_profile(20)).to_csv(path, index=False)
    rc = main(["keyrate", "--system", str(SYSTEM), "--profile", str(path)])
    _, err = capsys.readouterr()
    msg = err.strip()
    assert rc == 2
    assert "\n" not in msg and expect in msg and "bad.csv" in msg


def test_profile_excludes_table_options(tmp_path, capsys):
    path = tmp_path / "p.csv"
    _profile(20).to_csv(path, index=False)
    rc = main(["keyrate", "--system", str(SYSTEM), "--profile", str(path), "--asymptotic"])
    _, err = capsys.readouterr()
    assert rc == 2 and "--asymptotic" in err
