"""Work spread over this machine's cores (satqkd.parallel) and what uses it: the
units of a run and the large outputs written side by side."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest

from satqkd.errors import SatqkdError
from satqkd.io import write_files
from satqkd.parallel import counters, fork_map

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork_map runs in this process without fork")


def _square_with_pid(x):
    return x * x, os.getpid()


def test_fork_map_returns_in_order_from_other_processes():
    """Each of the (at most) ``processes`` children is forked once and runs
    item after item: a child forked per item paid again, per item, for what
    the parent had not built yet and for copying the pages it wrote (120
    five-day units took 2.5 times longer on two cores than on one)."""
    out = fork_map(_square_with_pid, range(7), processes=2)
    assert [v for v, _ in out] == [x * x for x in range(7)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids  # every call ran in a child
    assert len(pids) == 2


def test_fork_map_one_process_runs_here():
    assert {pid for _, pid in fork_map(_square_with_pid, range(3), processes=1)} == {os.getpid()}


def test_counters_are_shared_with_children():
    c = counters(3)

    def job(k):
        c[k] = 10 + k
        return k

    seen = []
    assert fork_map(job, range(3), processes=3, on_wait=lambda: seen.append(list(c)), poll_s=0.01) == [0, 1, 2]
    assert list(c) == [10, 11, 12]


def _fails(x):
    if x == 2:
        raise ValueError(f"bad item {x}")
    return x


def test_an_exception_in_a_child_is_raised_in_the_parent_with_its_origin():
    with pytest.raises(ValueError, match="bad item 2") as info:
        fork_map(_fails, range(4), processes=2)
    assert "in a forked worker process" in "".join(getattr(info.value, "__notes__", []))


def _dies(x):
    if x == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_a_child_that_dies_is_a_clear_error_naming_its_item():
    with pytest.raises(SatqkdError, match=r"worker process for item-1 ended without a result \(exit code -9: killed"):
        fork_map(_dies, range(3), processes=2, name=lambda x: f"item-{x}")


class _Carries(Exception):
    """An exception holding something that does not pickle (a function)."""


def _raises_unpicklable(x):
    if x == 1:  # one item only: which of two failing children reports first is a race
        raise _Carries(f"bad item {x}", lambda: x)
    return x


def _writes_to_stderr(x):
    import sys

    print(f"to stderr {x}", file=sys.stderr)
    return x


def test_errors_that_cannot_travel_back_are_program_errors_with_their_text():
    with pytest.raises(RuntimeError, match=r"_Carries: \('bad item 1'"):
        fork_map(_raises_unpicklable, [1, 2], processes=2)
    with pytest.raises(RuntimeError, match="does not pickle"):
        fork_map(lambda x: (lambda: x), [1, 2], processes=2)  # a result that cannot be pickled


def test_children_write_to_their_own_streams(capfd):
    assert fork_map(_writes_to_stderr, [1, 2], processes=2) == [1, 2]
    err = capfd.readouterr().err
    assert "to stderr 1" in err and "to stderr 2" in err


def test_units_on_two_cores_give_the_serial_tables():
    """The default scenario's two units (Nanshan, Xinglong) forked and one after the other:
    the same passes and seconds, to the last bit."""
    from satqkd.config import load_scenario
    from satqkd.pipeline import run

    sc = load_scenario()
    sc.end = sc.start.ts.tt_jd(sc.start.tt + 2.0)
    steps = []
    forked = run(sc, processes=2, progress=lambda *a: steps.append(a))
    serial = run(sc, processes=1)
    pd.testing.assert_frame_equal(forked.passes, serial.passes)
    pd.testing.assert_frame_equal(forked.seconds, serial.seconds)
    assert ("passes", 0, 2) in steps and steps[-1] == ("schedule", 0, 0)
    # Without the per-second table (satqkd network writes none): the same passes, no seconds.
    for processes in (1, 2):
        lean = run(sc, processes=processes, seconds=False)
        pd.testing.assert_frame_equal(lean.passes, serial.passes)
        assert lean.seconds.empty and list(lean.seconds.columns) == list(serial.seconds.columns)


def test_lazy_outputs_are_written_side_by_side_and_all_or_nothing(tmp_path):
    (tmp_path / "b.csv").write_text("old\n")
    paths = write_files({tmp_path / "a.txt": "A", tmp_path / "b.csv": lambda: "B" * 10, tmp_path / "c.html": lambda: "C"})
    assert [p.name for p in paths] == ["a.txt", "b.csv", "c.html"]
    assert (tmp_path / "b.csv").read_text() == "B" * 10 and (tmp_path / "c.html").read_text() == "C"

    def broken():
        raise SatqkdError("report: cannot render")

    with pytest.raises(SatqkdError, match="cannot render"):
        write_files({tmp_path / "a.txt": "new", tmp_path / "b.csv": lambda: "new", tmp_path / "d.html": broken})
    assert (tmp_path / "a.txt").read_text() == "A" and (tmp_path / "b.csv").read_text() == "B" * 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.csv", "c.html"]  # no temporary left


def _ephemeris_read(_):
    from satqkd import sky

    return all("_data" in vars(segment) for segment in sky.ephemeris().spk.segments)


def test_the_open_ephemeris_is_read_before_a_fork():
    """jplephem reads a segment lazily by seek + read on a file object that forked children
    share (with its offset): two children reading at once read garbage.  Every segment of the
    open kernel is read in the parent before a fork."""
    from satqkd import sky

    sky.ephemeris.cache_clear()
    assert not any("_data" in vars(segment) for segment in sky.ephemeris().spk.segments)
    assert fork_map(_ephemeris_read, [0, 1], processes=2) == [True, True]


# In a fresh interpreter (scipy.optimize not loaded yet, as after reading a
# scenario): the BLAS libraries seen inside pipeline.one_blas_thread once
# scipy.optimize is loaded, and the thread count of each.
_BLAS = r"""
import json, sys
from threadpoolctl import threadpool_info
from satqkd import pipeline
from satqkd.config import load_scenario
load_scenario()
assert "scipy.optimize" not in sys.modules, "reading a scenario loads scipy.optimize again"
with pipeline.one_blas_thread():
    import scipy.optimize
    inside = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps(inside))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="BLAS has one thread anyway on one core")
def test_blas_of_scipy_optimize_runs_on_one_thread_in_the_units():
    """The optimiser's L-BFGS-B calls BLAS on five-element vectors; with
    scipy.optimize imported where first used, its OpenBLAS was loaded after
    the units limited BLAS to one thread, and its extra threads spun: 1.5 s
    more CPU in a year's sweep (16.5 s of CPU in 15.1 s of one process)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _BLAS], capture_output=True, text=True, check=True, timeout=120)
    inside = json.loads(out.stdout)
    assert any("scipy" in path for path, _ in inside), inside  # scipy's own OpenBLAS is among them
    assert all(n == 1 for _, n in inside), inside


_ORPHANS = r"""
import os, sys, time
from satqkd.parallel import fork_map
def item(x):
    print(os.getpid(), flush=True)
    time.sleep(1)
    return x
fork_map(item, range(6), processes=2)
"""


def test_children_end_when_the_parent_is_killed():
    """Each child, waiting for its next item, watches the parent: killed (or
    out of memory), it takes its children with it instead of leaving them
    blocked on a pipe the other children still held open."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _ORPHANS], stdout=subprocess.PIPE, text=True)
    kids = [int(proc.stdout.readline()) for _ in range(2)]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10  # the item in hand (1 s) is finished first
    for pid in kids:
        while True:
            try:
                state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
            except OSError:
                break
            if state == "Z":
                break
            assert time.monotonic() < deadline, f"child {pid} outlived its killed parent"
            time.sleep(0.1)


_HELD = r"""
import os, signal, sys, threading, time
from satqkd.clusters import sigint_blocked
threading.Thread(target=threading.Event().wait, daemon=True).start()  # as a progress bar's refresh thread
try:
    with sigint_blocked():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        print("block ended", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt after the block", flush=True)
"""


def test_ctrl_c_is_held_back_even_when_another_thread_receives_it():
    """The kernel may hand SIGINT to a thread that does not block it (rich's
    progress thread on a terminal); KeyboardInterrupt was then raised inside
    the block, midway through an import, and `satqkd sweep --workers` hung."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _HELD], capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines() == ["block ended", "KeyboardInterrupt after the block"], out


# A command's handling of Ctrl-C (satqkd.cli._signals_raise: SIGINT and SIGTERM raise) around a
# fork_map whose children are busy with an item when the parent is interrupted.
_INTERRUPTED_MID_ITEM = r"""
import os, signal, sys, threading, time
from satqkd.cli import Interrupted, _signals_raise
from satqkd.parallel import fork_map

def slow(x):
    time.sleep(120)
    return x

threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    with _signals_raise():
        fork_map(slow, [1, 2], processes=2)
except Interrupted:
    print("interrupted", flush=True)
"""


def test_an_interrupted_fork_map_ends_its_busy_children_at_once(tmp_path):
    """Ctrl-C while ``satqkd run`` wrote its outputs (rendered in forked
    children) hung for ever: the parent stopped each child with SIGTERM and
    waited for it, and the child, busy with an item, raised the inherited
    handler's exception inside the item, reported it as that item's error and
    waited for the next item.  Found by interrupting ``satqkd run micius`` at
    random moments (the first of 30 runs hung).  A child now dies by SIGTERM at
    once; what it was filling is the parent's to remove."""
    import subprocess
    import sys
    import time

    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", _INTERRUPTED_MID_ITEM], capture_output=True, text=True,
                         timeout=30, cwd=tmp_path)
    assert out.stdout == "interrupted\n", out
    assert "Traceback" not in out.stderr, out.stderr
    assert time.monotonic() - t0 < 20
