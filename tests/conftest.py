import copy
from pathlib import Path

import pytest
from skyfield.api import EarthSatellite

from satqkd import sky

# Micius (NORAD 41731), epoch 2016-12-18, one day before the Liao et al. 2017
# Xinglong pass (shared/reference/system.md; checksums verified there).
MICIUS_2016 = (
    "1 41731U 16051A   16353.90152003  .00000364  00000-0  17957-4 0  9993",
    "2 41731  97.3699 267.4500 0013200 178.5836 246.0824 15.23915303 19063",
)
MICIUS_2021 = (
    "1 41731U 16051A   21117.42314584  .00000696  00000-0  30260-4 0  9998",
    "2 41731  97.3499  30.8507 0012844 347.0485 124.2616 15.25507799261429",
)
GOES17_2021 = (
    "1 43226U 18022A   21118.71840611  .00000093  00000-0  00000-0 0  9993",
    "2 43226   0.0296 279.4838 0000767 154.9766 263.8713  1.00272233 11603",
)


@pytest.fixture(scope="session")
def ts():
    return sky.timescale()


@pytest.fixture(scope="session")
def micius_2016(ts):
    return EarthSatellite(*MICIUS_2016, "MICIUS", ts)


@pytest.fixture(scope="session")
def micius_2021(ts):
    return EarthSatellite(*MICIUS_2021, "MICIUS", ts)


@pytest.fixture(scope="session")
def goes17(ts):
    return EarthSatellite(*GOES17_2021, "GOES 17", ts)


EPHEMERIS = Path(__file__).resolve().parents[1] / "ephemeris"


def short_scenario() -> dict:
    """A one-day, one-station scenario (Micius 2021 elements over Nanshan),
    as a fresh dict for tests of the scenario loader and the CLI."""
    return copy.deepcopy({
        "name": "short test",
        "start": "2021-04-27",
        "days": 1,
        "constraints": {"min_elevation_deg": 10, "night": "nautical"},
        "protocol": {"preset": "satellite"},
        "satellites": [{"name": "MICIUS", "orbit": {"elements": str(EPHEMERIS / "micius-2021-04-27.tle")},
                        "transmitter": {"preset": "micius"}, "source": {"preset": "micius_2021"}}],
        "stations": [{"preset": "nanshan", "telescope": {"preset": "nanshan"},
                      "detector": {"preset": "micius_2021_nanshan"}}],
    })
