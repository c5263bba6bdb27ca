"""The README's examples run: every command line and the scenario YAML."""

import re
import shlex
import shutil
from pathlib import Path

import pytest

from satqkd.cli import main
from satqkd.config import load_scenario

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def block_after(heading, lang):
    section = README[README.index(heading):]
    return re.search(rf"```{lang}\n(.*?)```", section, flags=re.S).group(1)


def command_lines():
    text = block_after("## The command line", "bash").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("satqkd "):
            yield line


COMMANDS = list(command_lines())


def test_readme_lists_commands():
    assert len(COMMANDS) >= 10
    assert {c.split()[1] for c in COMMANDS} >= {"run", "passes", "link", "keyrate", "elements"}


@pytest.mark.parametrize("line", COMMANDS, ids=[c[:60] for c in COMMANDS])
def test_readme_command_runs(line, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # outputs such as -o out-2017 land here
    args = [str(ROOT / a) if a.startswith(("configs/", "ephemeris/", "tests/data/")) else a for a in shlex.split(line)[1:]]
    assert main(args) == 0, capsys.readouterr().err
    assert capsys.readouterr().out or list(tmp_path.iterdir())


def test_readme_scenario_validates(tmp_path):
    (tmp_path / "scenario.yaml").write_text(block_after("## Scenarios", "yaml"))
    shutil.copytree(ROOT / "configs" / "masks", tmp_path / "masks")
    sc = load_scenario(tmp_path / "scenario.yaml")
    assert sc.stations[0].detector.efficiency == 0.4
    assert sc.stations[0].station.horizon_mask
