"""The README's calibration, validation and LEO-versus-GEO tables are the
output of tools/validation_tables.py, not hand-copied numbers: a change of
physics that moves them fails here until the script is rerun
(``python tools/validation_tables.py``)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tables_are_current():
    spec = importlib.util.spec_from_file_location("validation_tables", ROOT / "tools" / "validation_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0, "README tables are stale: run python tools/validation_tables.py"
