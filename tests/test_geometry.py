"""Earth-fixed look angles against skyfield's full topocentric path."""

import numpy as np
from skyfield.api import wgs84

from satqkd import sky
from satqkd.geometry import SunMoon, look_angles, satellite_itrs_km, seconds_to_time, sunlit
from satqkd.stations import Station


def test_look_angles_match_skyfield_altaz_to_1e6_deg(micius_2021, ts):
    """Reference: skyfield's (sat - topos).at(t).altaz(), which goes through
    GCRS with precession and nutation; the Earth-fixed shortcut must agree."""
    station = Station.nanshan()
    t0 = ts.utc(2021, 4, 27, 12)
    offsets = np.arange(0.0, 86400.0, 7.0)
    t = seconds_to_time(t0, offsets)
    r, v, _ = satellite_itrs_km(micius_2021, t)
    ours = look_angles(station, r, v)

    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    alt, az, dist = (micius_2021 - topos).at(t).altaz()
    assert np.max(np.abs(ours.elevation_deg - alt.degrees)) < 1e-6
    daz = (ours.azimuth_deg - az.degrees + 180.0) % 360.0 - 180.0
    # Azimuth is ill-defined at the zenith; compare where elevation < 89.9 deg.
    assert np.max(np.abs(daz[alt.degrees < 89.9])) < 1e-6
    assert np.max(np.abs(ours.range_km - dist.km)) < 1e-6


def test_range_rate_matches_finite_difference_of_skyfield_range(micius_2021, ts):
    """Reference: central difference of skyfield's topocentric distance."""
    station = Station.xinglong()
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    t0 = ts.utc(2021, 4, 27, 12)
    offsets = np.arange(0.0, 6000.0, 60.0)
    r, v, _ = satellite_itrs_km(micius_2021, seconds_to_time(t0, offsets))
    rate = look_angles(station, r, v).range_rate_km_s
    h = 0.01
    d_plus = (micius_2021 - topos).at(seconds_to_time(t0, offsets + h)).distance().km
    d_minus = (micius_2021 - topos).at(seconds_to_time(t0, offsets - h)).distance().km
    # SGP4's velocity is not exactly the time derivative of its position
    # (a few cm/s); 5e-5 km/s is still 1e-5 of the range rate itself.
    np.testing.assert_allclose(rate, (d_plus - d_minus) / (2 * h), atol=5e-5)


def test_interpolated_sun_and_moon_altitudes_match_skyfield(ts):
    """Reference: skyfield's apparent altaz of the Sun and the Moon (no refraction)."""
    station = Station.nanshan()
    t0 = ts.utc(2026, 11, 28)
    offsets = np.arange(0.0, 2 * 86400.0, 333.0)
    sm = SunMoon(t0, 0.0, offsets[-1])
    from satqkd.geometry import elevation_of

    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    observer = sky.earth() + topos
    t = seconds_to_time(t0, offsets)
    sun_alt = observer.at(t).observe(sky.sun()).apparent().altaz()[0].degrees
    moon_alt = observer.at(t).observe(sky.moon()).apparent().altaz()[0].degrees
    assert np.max(np.abs(elevation_of(station, sm.sun_itrs_km(offsets)) - sun_alt)) < 1e-3
    assert np.max(np.abs(elevation_of(station, sm.moon_itrs_km(offsets)) - moon_alt)) < 1e-3


def test_sunlit_agrees_with_skyfield_is_sunlit(micius_2021, ts):
    """Reference: skyfield's ICRF.is_sunlit (a conical umbra); ours is a
    cylinder, so allow disagreement only within a few seconds of the edge."""
    t0 = ts.utc(2021, 4, 27, 12)
    offsets = np.arange(0.0, 3 * 5700.0, 10.0)
    t = seconds_to_time(t0, offsets)
    r, _, _ = satellite_itrs_km(micius_2021, t)
    sm = SunMoon(t0, 0.0, offsets[-1])
    ours = sunlit(r, sm.sun_itrs_km(offsets))
    theirs = micius_2021.at(t).is_sunlit(sky.ephemeris())
    assert 0.2 < ours.mean() < 0.9  # both states occur
    disagree = np.flatnonzero(ours != theirs)
    # each shadow edge may differ by at most ~2 samples (20 s)
    assert disagree.size <= 4 * 3


def test_sun_altitude_matches_astropy(ts):
    """Independent library: astropy's get_body('sun') in AltAz (no
    refraction, bundled IERS tables, no download) agrees within 0.01 deg."""
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, get_body
    from astropy.time import Time
    from astropy.utils import iers

    from satqkd.geometry import elevation_of
    from satqkd.passes import to_time

    iers.conf.auto_download = False
    station = Station.nanshan()
    t_astropy = Time("2021-04-27T00:00:00", scale="utc") + np.arange(0, 86400, 1800) * u.s
    t0 = to_time(t_astropy[0])  # to_time accepts astropy Times
    offsets = np.arange(0, 86400, 1800, dtype=float)
    ours = elevation_of(station, SunMoon(t0, 0.0, offsets[-1]).sun_itrs_km(offsets))
    site = EarthLocation.from_geodetic(station.longitude_deg * u.deg, station.latitude_deg * u.deg, station.height_m * u.m)
    theirs = get_body("sun", t_astropy, site).transform_to(AltAz(obstime=t_astropy, location=site, pressure=0 * u.hPa)).alt.deg
    assert np.max(np.abs(ours - theirs)) < 0.01


def test_sun_and_moon_interpolation_matches_skyfield_at_random_times_over_a_year():
    """SunMoon interpolates hourly (the Sun six-hourly) apparent geocentric
    positions by cubics in plain numpy (scipy's CubicSpline cost a short
    forecast 0.3 s of import); reference: skyfield's apparent position at
    each exact time, 2,000 random times over a year, ends included."""
    from satqkd import sky

    ts = sky.timescale()
    t0 = ts.utc(2026, 11, 28)
    span_s = 365.0 * 86400.0
    sm = SunMoon(t0, 0.0, span_s)
    offsets = np.r_[0.0, span_s, np.random.default_rng(7).uniform(0.0, span_s, 2000)]
    t = seconds_to_time(t0, offsets)
    for body, target in (("sun", sky.sun()), ("moon", sky.moon())):
        ref = sky.earth().at(t).observe(target).apparent().position.km
        got = sm._spline(body)(offsets)
        relative = np.linalg.norm(got - ref, axis=0) / np.linalg.norm(ref, axis=0)
        assert relative.max() < 2e-10, body  # 1e-8 degrees in direction
