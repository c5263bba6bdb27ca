"""The package as a user gets it: a wheel built by pip, unpacked and run
from a folder without the repository (issue 17).

Every file under ``configs/`` and ``ephemeris/`` is in the wheel, and the
README's commands that name repository paths (``configs/validation/...``,
``configs/profiles/...``) or shipped element sets by name work from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory):
    """Build the wheel from a copy of the sources (the checkout stays clean),
    and unpack it as pip would install it."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for folder in ("satqkd", "configs", "ephemeris"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next((tmp / "dist").glob("satqkd-*.whl"))
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
        names = set(zf.namelist())
    return site, names


def test_wheel_has_every_shipped_file(wheel_site):
    _, names = wheel_site
    shipped = [p for folder in ("configs", "ephemeris") for p in (REPO / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts]
    missing = []
    for p in shipped:
        rel = p.relative_to(REPO)
        inside = ("satqkd/configs/" if rel.parts[0] == "configs" else "satqkd/ephemeris/") + "/".join(rel.parts[1:])
        if inside not in names:
            missing.append(str(rel))
    assert missing == []


def test_readme_lines_with_repository_paths_work_from_the_wheel(wheel_site, tmp_path):
    site, _ = wheel_site
    env = {**os.environ, "PYTHONPATH": str(site)}

    def satqkd(*args):
        proc = subprocess.run([sys.executable, "-m", "satqkd", *args], capture_output=True, text=True, cwd=tmp_path,
                              env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    probe = subprocess.run([sys.executable, "-c", "import satqkd; print(satqkd.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, env=env)
    assert probe.stdout.strip().startswith(str(site))
    assert not (tmp_path / "configs").exists()
    # The two README lines that only worked from a checkout.
    assert "Delingha" in satqkd("link", "configs/validation/yin-2017-prl-delingha.yaml", "--format", "csv")
    assert "key_bits" in satqkd("keyrate", "--system", "configs/systems/micius-2021-nanshan.yaml",
                                "--profile", "configs/profiles/nanshan-2021-typical-pass.csv", "--format", "json")
    # Shipped element sets by name, like scenarios.
    out = satqkd("passes", "--tle", "micius-2016-12-18", "--station", "xinglong", "--start", "2016-12-19", "--days", "1",
                 "--format", "csv")
    assert out.count("\n") >= 2
