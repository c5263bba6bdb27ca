"""The README's yearly-key table is the output of tools/year_table.py (a
year of configs/micius-year.yaml), not hand-copied numbers: it leads with
the delivered key, as run.json and the report do, and a change that moves
any of its numbers fails here until the tool is rerun."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_year_table_is_current():
    spec = importlib.util.spec_from_file_location("year_table", ROOT / "tools" / "year_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0, "README year table is stale: run python tools/year_table.py"
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("<!-- BEGIN year-table -->"):readme.index("<!-- END year-table -->")]
    assert block.index("**Delivered:") < block.index("clear-sky ceiling")
