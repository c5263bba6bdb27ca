"""The key-delivery twin (satqkd.kme, `satqkd serve`).

References: ETSI GS QKD 014 V1.1.1 (2019-02), "Protocol and data format of
REST-based key delivery API": section 5 (methods, status codes 200 / 400 /
401 / 503), section 6 (Status, Key request, Key container, Key IDs, Error).
The clients are not ours: curl (OpenSSL) and etsi-qkd-014-client (PyPI,
LIP6), with server-certificate verification on.  The server is the real
`satqkd serve` process, on loopback, on a free port.  The network side is
checked against the simulation itself (satqkd.network.simulate), run
separately in this process: its own requests, and straight runs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satqkd.errors import SatqkdError
from satqkd.kme.pki import ensure_pki, write_test_pki

ROOT = Path(__file__).resolve().parents[1]
AT = "2021-05-23T00:00:00"
READY = re.compile(r"satqkd: serving https://127\.0\.0\.1:(\d+) \((\d+) SAEs\)")

requests = pytest.importorskip("requests")


# -- the simulation alone, in this process ------------------------------------------------

def clear_sky(folder: Path) -> Path:
    """The shipped china-network under a clear sky (its ``weather:`` block removed), written to ``folder``.

    In the shipped scenario's weather year every Nanshan pass of the week is under cloud, so the
    satellite link never has key at both ends; the tests that relay across it use this copy."""
    text = (ROOT / "configs/china-network.yaml").read_text()
    assert re.search(r"(?m)^weather:", text) and "../ephemeris/" in text
    text = re.sub(r"(?m)^weather:.*\n", "", text).replace("../ephemeris/", f"{ROOT / 'ephemeris'}/")
    path = folder / "china-network-clear.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def china(tmp_path_factory):
    """china-network under a clear sky (:func:`clear_sky`), its pass table and its pools at AT (simulation only)."""
    from satqkd.config import load_scenario
    from satqkd.network.simulate import Simulation
    from satqkd.pipeline import run

    path = clear_sky(tmp_path_factory.mktemp("scenario"))
    sc = load_scenario(path)
    network = sc.network
    sc.network = None
    passes = run(sc).passes
    sc.network = network
    start = pd.Timestamp(sc.start.utc_datetime())
    at_s = (pd.Timestamp(AT, tz="UTC") - start).total_seconds()
    span_s = (sc.end.tt - sc.start.tt) * 86400.0
    level = Simulation(network, passes, start, span_s, demand_until_s=at_s).run_until(at_s).pool_table()["level_bits"]
    return {"scenario": sc, "path": path, "network": network, "passes": passes, "start": start, "at_s": at_s, "span_s": span_s,
            "level_bits": level.to_numpy()}


def twin_at(china, net, t_s, speed=0.0, clock=None):
    """The twin as `satqkd serve --at` builds it: the scenario's requests up to ``t_s``, none after."""
    from satqkd.kme import NetworkTwin
    from satqkd.network.simulate import Simulation

    sim = Simulation(net, china["passes"], china["start"], china["span_s"], demand_until_s=t_s).run_until(t_s)
    return NetworkTwin(sim, speed=speed, **({"clock": clock} if clock else {}))


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.mark.parametrize("from_start", [False, True], ids=["at", "span start"])
def test_twin_follows_the_simulation(china, from_start):
    """With no requests, the twin started at AT (or at the span's start) and looked at every
    simulated hour for 30 hours equals one straight simulation run 30 h further with no demand:
    fibre blocks, outages and passes arrive as the simulation says, and (relay on demand) no
    satellite key reaches a ground pool: it waits on board."""
    import copy

    from satqkd.network.simulate import Simulation

    net = copy.copy(china["network"])
    net.demands = []
    t0 = 0.0 if from_start else china["at_s"]
    clock = FakeClock()
    twin = twin_at(china, net, t0, speed=3600.0, clock=clock)
    stores0 = twin.stores.level.copy()
    for hour in range(1, 49):  # real seconds: simulated hours; every look runs the simulation on
        clock.t = float(hour)
        twin.status("Urumqi-U01", "Shanghai-U03")
    table = twin.pool_table()
    later = Simulation(net, china["passes"], china["start"], china["span_s"]).run_until(t0 + 48 * 3600.0)
    assert twin.passes_arrived > 0  # the nights' passes left their key on board
    np.testing.assert_allclose(table["level_bits"], later.pool_table()["level_bits"], rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(twin.stores.level, later.store_table()["level_bits"], rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(twin.pools.balance(), 0.0, atol=1e-3)
    assert twin.stores.level.sum() > stores0.sum()
    sat = net.links["kind"].to_numpy() == "satellite"
    assert (table["generated_bits"].to_numpy()[sat] == 0).all() and twin.relay_commands == 0
    assert (table["generated_bits"].to_numpy()[~sat] > 0).any()


def test_twin_relays_as_the_simulation_does(china):
    """One request of 100 kbit from Urumqi-U01 to Shanghai-U03 at AT, as the scenario's only demand
    there: the simulation serves it by its own requests' path (route, satellite relay on demand); the
    twin, built at AT (so the demand is the client's), serves the client's request to the same route,
    relay commands and pool levels one second later."""
    import copy

    from satqkd.network.demand import DemandSpec
    from satqkd.network.simulate import simulate

    at_s = china["at_s"]
    net = copy.copy(china["network"])
    net.demands = [DemandSpec(a="Urumqi-U01", b="Shanghai-U03", rate_bps=100.0, every_s=1000.0, times_s=[at_s])]
    clock = FakeClock()
    twin = twin_at(china, net, at_s, speed=1.0, clock=clock)
    assert len(twin.sim.requests) == 0  # the request at AT is not the scenario's: the client makes it
    twin.issue("Urumqi-U01", "Shanghai-U03", 50, 2000)
    clock.t = 1.0
    ours = twin.pool_table()
    sim = simulate(net, china["passes"], china["start"], at_s + 1.0)
    assert list(sim.requests["status"]) == ["served"]
    assert list(twin.issued) == [("Urumqi-U01", "Shanghai-U03", sim.requests["route"].iat[0])]
    assert len(sim.relays) > 0 and twin.relay_commands == len(sim.relays)  # relayed on demand, both
    np.testing.assert_allclose([e[2] for e in twin.sim.relay_log], sim.relays["bits"], rtol=1e-12)
    np.testing.assert_allclose(ours["level_bits"], sim.links["level_bits"], rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(twin.stores.level, sim.stores["level_bits"], rtol=1e-12, atol=1e-6)


def test_twin_issue_consumes_on_every_pool_of_the_route(china):
    from satqkd.kme import KeyRefused

    twin = twin_at(china, china["network"], china["at_s"])
    before = twin.pools.consumed.copy()
    sat = int(np.flatnonzero(china["network"].links["kind"].to_numpy() == "satellite")[0])
    # The ground pool alone cannot give 3 x 512 bits: the key waits on board.
    assert twin.pools.level[sat] - twin.pools.minimum[sat] < 3 * 512 and twin.sim.extra[sat] > 3 * 512
    keys = twin.issue("Urumqi-U01", "Shanghai-U03", 3, 512)
    assert len(keys) == 3 and all(len(k) == 64 for _, k in keys) and len({k for k, _ in keys}) == 3
    spent = twin.pools.consumed - before
    on_route = spent > 0
    assert on_route.sum() == 44  # 44 hops, across the satellite link
    np.testing.assert_allclose(spent[on_route], 3 * 512)
    # Relay on demand: the satellite pool got exactly what it lacked, and is back at its minimum.
    assert on_route[sat] and twin.relay_commands == 1
    assert twin.pools.level[sat] == pytest.approx(twin.pools.minimum[sat])
    assert twin.fetch("Urumqi-U01", "Shanghai-U03", [keys[0][0]]) == [keys[0]]
    with pytest.raises(KeyRefused) as e:  # once only
        twin.fetch("Urumqi-U01", "Shanghai-U03", [keys[0][0]])
    assert e.value.status == 400
    with pytest.raises(KeyRefused) as e:  # not Beijing-U01's key; the same answer as an unknown one
        twin.fetch("Urumqi-U01", "Beijing-U01", [keys[1][0]])
    assert e.value.status == 400 and "not found" in e.value.message
    with pytest.raises(KeyRefused) as e:  # more than the satellite pool holds: 503, nothing spent
        for _ in range(1000):
            twin.issue("Urumqi-U01", "Shanghai-U03", 128, 2048)
    assert e.value.status == 503
    np.testing.assert_allclose(twin.pools.balance(), 0.0, atol=1e-6)
    assert (twin.pools.level >= twin.pools.minimum).all()


def test_pki_written_then_reused_and_partial_is_an_error(tmp_path):
    first = ensure_pki(tmp_path / "pki", ["A-U1", "B-U2"])
    assert first.created and (tmp_path / "pki/sae/A-U1.key").stat().st_mode & 0o077 == 0
    again = ensure_pki(tmp_path / "pki", ["A-U1", "B-U2"])
    assert not again.created and first.ca.read_bytes() == again.ca.read_bytes()
    (tmp_path / "pki/server.key").unlink()
    with pytest.raises(SatqkdError, match="server.key"):
        ensure_pki(tmp_path / "pki", ["A-U1"])
    # The certificates verify as a client would check them (Python's ssl, hostname on).
    ctx = ssl.create_default_context(cafile=str(first.ca))
    ctx.load_cert_chain(tmp_path / "pki/sae/A-U1.pem", tmp_path / "pki/sae/A-U1.key")


# -- the real server process ---------------------------------------------------------------

class Server:
    """`satqkd serve` in a subprocess; the ready line gives the port."""

    def __init__(self, tmp: Path, *args: str, timeout_s: float = 90.0, scenario: str = "china-network"):
        self.tmp = tmp
        self.pki = tmp / "pki"
        self.out = tmp / "out"
        self.err = open(tmp / "stderr.txt", "w+")
        cmd = [sys.executable, "-m", "satqkd", "serve", scenario, "--at", AT, "--port", "0",
               "--pki", str(self.pki), "-o", str(self.out), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True, cwd=tmp)
        self.lines = []
        import queue

        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in iter(self.proc.stdout.readline, "")] + [lines.put("")],
                         daemon=True).start()
        self._reader = lines
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # bounded: a silent, hung process does not hang the tests
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if not line:
                break
            self.lines.append(line)
            m = READY.search(line)
            if m:
                self.port, self.n_sae = int(m.group(1)), int(m.group(2))
                break
        if not hasattr(self, "port"):
            self.proc.kill()
            raise AssertionError(f"no ready line: {self.lines} {self.stderr()}")
        self.url = f"https://localhost:{self.port}/api/v1/keys"

    def session(self, sae: str):
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment would win over verify=
        s.verify = str(self.pki / "ca.pem")
        s.cert = (str(self.pki / "sae" / f"{sae}.pem"), str(self.pki / "sae" / f"{sae}.key"))
        return s

    def stderr(self) -> str:
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self, timeout_s: float = 30.0) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout_s)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # the reader thread's last lines
            line = self._reader.get(timeout=5.0)
            if not line:
                break
            self.lines.append(line)
        return "".join(self.lines)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kme")
    # Our own PKI first (the server uses it as it is): it also has certificates
    # for a name that is no node (Mallory) and for a relay (Beijing), both no SAE.
    from satqkd.config import load_scenario

    net = load_scenario("china-network").network
    saes = list(net.nodes.loc[net.nodes["kind"] == "user", "node"])
    write_test_pki(tmp / "pki", saes + ["Mallory", "Beijing"])
    # A clear sky (as the README's session): the scenario's own weather year has no satellite key that week.
    srv = Server(tmp, "--speed", "0", "--weather", "clear", "--log-level", "debug", "--log-every", "0.5")
    yield srv
    if srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)


def test_ready_line_counts_every_user_site(server):
    assert server.n_sae == 144


def readme_session() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Serving keys"):]
    return re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)


def test_readme_curl_session(server, tmp_path):
    """The README's pasteable session (done-when of issue 18), line by line, against the server."""
    lines = [ln for ln in readme_session().splitlines() if ln.strip()]
    serve_line = lines[0].split("#")[0]
    assert serve_line.split()[:7] == ["satqkd", "serve", "china-network", "--at", AT, "--weather", "clear"], serve_line
    assert lines[-1].startswith("kill ")
    script = ["set -u", f"cd {shlex.quote(str(server.tmp))}"]
    for k, ln in enumerate(lines[1:-1]):
        script += [ln.replace("8443", str(server.port)), f'echo "@@{k} rc=$?"']
    env = {**os.environ, "NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1"}
    run = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=60, env=env)
    parts = re.split(r"@@(\d+) rc=(\d+)\n", run.stdout)
    outs = {int(parts[i + 1]): (parts[i], int(parts[i + 2])) for i in range(0, len(parts) - 2, 3)}
    cmds = lines[1:-1]
    assert len(outs) == len(cmds), run.stdout + run.stderr

    def result(word):
        k = next(i for i, c in enumerate(cmds) if word in c)
        return outs[k]

    status, rc = result("/status\"")
    assert rc == 0 and status.rstrip().endswith(" 200") and '"stored_key_count"' in status
    keys = json.loads((server.tmp / "keys.json").read_text())["keys"]
    assert len(keys) == 2 and all(len(base64.b64decode(k["key"])) == 32 for k in keys)
    beijing = [outs[i] for i, c in enumerate(cmds) if c.startswith("as Beijing-U01")]
    shanghai = [outs[i] for i, c in enumerate(cmds) if c.startswith("as Shanghai-U03")]
    assert len(beijing) == 1 and beijing[0][0].rstrip().endswith(" 400") and '"key"' not in beijing[0][0]
    assert len(shanghai) == 2
    got = json.loads(shanghai[0][0].rstrip()[:-4])["keys"]
    assert shanghai[0][0].rstrip().endswith(" 200") and got == keys  # the same two keys, by key_ID
    assert shanghai[1][0].rstrip().endswith(" 400") and '"key"' not in shanghai[1][0]
    nocert = [outs[i] for i, c in enumerate(cmds) if c.startswith("curl ") and "--cert" not in c]
    assert len(nocert) == 1 and nocert[0][1] != 0 and '"key' not in nocert[0][0]  # refused at the handshake
    for key in keys:  # never logged
        assert key["key"] not in server.stderr()


def test_with_the_scenarios_weather_the_satellite_pair_gets_503():
    """Without --weather clear the plan is the scenario's weather year (seed 1): every Nanshan
    pass of the week is under cloud, so Urumqi-U01 (only behind the satellite) is refused, as
    the README says, while a fibre pair is served."""
    import pandas as pd

    from satqkd.config import load_scenario
    from satqkd.kme import KeyRefused
    from satqkd.kme.server import build_twin

    twin = build_twin(load_scenario("china-network"), pd.Timestamp(AT, tz="UTC"), speed=0.0)
    with pytest.raises(KeyRefused) as refused:
        twin.issue("Urumqi-U01", "Shanghai-U03", 2, 256)
    assert refused.value.status == 503
    assert len(twin.issue("Jinan-U01", "Shanghai-U03", 2, 256)) == 2


def test_independent_etsi_client(server):
    """etsi-qkd-014-client (PyPI), host as HOST:PORT, the server's certificate verified against ca.pem."""
    from etsi_qkd_014_client import QKD014Client

    def client(sae):
        return QKD014Client(f"localhost:{server.port}", str(server.pki / "sae" / f"{sae}.pem"),
                            str(server.pki / "sae" / f"{sae}.key"), str(server.pki / "ca.pem"))

    master, slave = client("Hefei-U01"), client("Hefei-U02")
    code, status = master.get_status("Hefei-U02")
    assert code == 200 and status.master_sae_id == "Hefei-U01" and status.slave_sae_id == "Hefei-U02"
    assert status.key_size == 256 and status.max_key_per_request == 128 and status.stored_key_count > 0
    code, box = master.get_key("Hefei-U02", number=3, size=512)  # POST with a Key request
    assert code == 200 and len(box.keys) == 3
    code, simple = master.get_key("Hefei-U02")  # plain GET: one key of key_size
    assert code == 200 and len(simple.keys) == 1 and len(base64.b64decode(simple.keys[0].key)) == 32
    ids = [k.key_id for k in box.keys]
    code, back = slave.get_key_with_key_IDs("Hefei-U01", ids)
    assert code == 200 and [(k.key_id, k.key) for k in back.keys] == [(k.key_id, k.key) for k in box.keys]
    code, err = slave.get_key_with_key_IDs("Hefei-U01", ids)
    assert code == 400 and err.message
    code, err = master.get_key("Hefei-U02", number=129)
    assert code == 400 and "max_key_per_request" in err.message


def alive(server):
    r = server.session("Jinan-U01").get(f"{server.url}/Jinan-U02/status", timeout=10)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("case, status, words", [
    ("malformed json", 400, "expected JSON"),
    ("json array", 400, "JSON object"),
    ("number too big", 400, "max_key_per_request"),
    ("number zero", 400, "number"),
    ("size too big", 400, "max_key_size"),
    ("size not bytes", 400, "multiple of 8"),
    ("size text", 400, "whole number"),
    ("size huge text", 400, "whole number"),
    ("extension mandatory", 400, "extension"),
    ("additional slaves", 400, "max_SAE_ID_count"),
    ("unknown slave", 400, "unknown SAE ID"),
    ("self", 400, "same"),
    ("dec bad uuid", 400, "UUID"),
    ("dec too many", 400, "at most 128"),
    ("dec no id", 400, "missing"),
    ("dec unknown id", 400, "not found"),
    ("status post", 405, "not allowed"),
    ("other path", 404, "not found"),
    ("not an sae", 401, "unauthorized"),
    ("a relay", 401, "unauthorized"),
])
def test_bad_requests_get_the_right_error(server, case, status, words):
    s = server.session("Mallory" if case == "not an sae" else "Beijing" if case == "a relay" else "Jinan-U01")
    u = server.url
    post = lambda path, **kw: s.post(f"{u}/{path}", timeout=10, **kw)  # noqa: E731
    r = {
        "malformed json": lambda: post("Jinan-U02/enc_keys", data=b'{"number": 2,', headers={"Content-Type": "application/json"}),
        "json array": lambda: post("Jinan-U02/enc_keys", json=[1, 2]),
        "number too big": lambda: post("Jinan-U02/enc_keys", json={"number": 129}),
        "number zero": lambda: s.get(f"{u}/Jinan-U02/enc_keys?number=0", timeout=10),
        "size too big": lambda: post("Jinan-U02/enc_keys", json={"size": 4096}),
        "size not bytes": lambda: s.get(f"{u}/Jinan-U02/enc_keys?size=100", timeout=10),
        "size text": lambda: post("Jinan-U02/enc_keys", json={"size": "big"}),
        "size huge text": lambda: s.get(f"{u}/Jinan-U02/enc_keys?size=" + "9" * 5000, timeout=10),
        "extension mandatory": lambda: post("Jinan-U02/enc_keys", json={"extension_mandatory": [{"x": 1}]}),
        "additional slaves": lambda: post("Jinan-U02/enc_keys", json={"additional_slave_SAE_IDs": ["Jinan-U03"]}),
        "unknown slave": lambda: s.get(f"{u}/Atlantis-U01/enc_keys", timeout=10),
        "self": lambda: s.get(f"{u}/Jinan-U01/enc_keys", timeout=10),
        "dec bad uuid": lambda: s.get(f"{u}/Jinan-U02/dec_keys?key_ID=12345", timeout=10),
        "dec too many": lambda: post("Jinan-U02/dec_keys", json={"key_IDs": [{"key_ID": "00000000-0000-4000-8000-%012d" % i} for i in range(129)]}),
        "dec no id": lambda: s.get(f"{u}/Jinan-U02/dec_keys", timeout=10),
        "dec unknown id": lambda: s.get(f"{u}/Jinan-U02/dec_keys?key_ID=6f1c2a8e-4d7b-4c55-9a31-0b9e2f6d7c10", timeout=10),
        "status post": lambda: post("Jinan-U02/status", json={}),
        "other path": lambda: s.get(f"https://localhost:{server.port}/api/v2/keys", timeout=10),
        "not an sae": lambda: s.get(f"{u}/Jinan-U02/status", timeout=10),
        "a relay": lambda: s.get(f"{u}/Jinan-U02/enc_keys", timeout=10),
    }[case]()
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["message"] and "keys" not in body
    alive(server)


def test_handshake_refused_without_certificate_or_from_another_ca(server, tmp_path):
    bare = requests.Session()
    bare.trust_env = False
    bare.verify = str(server.pki / "ca.pem")
    with pytest.raises(requests.exceptions.RequestException):
        bare.get(f"{server.url}/Jinan-U02/status", timeout=10)
    other = write_test_pki(tmp_path / "other", ["Jinan-U01"])  # the same name, another CA
    s = requests.Session()
    s.trust_env = False
    s.verify = str(server.pki / "ca.pem")
    s.cert = (str(tmp_path / "other/sae/Jinan-U01.pem"), str(tmp_path / "other/sae/Jinan-U01.key"))
    with pytest.raises(requests.exceptions.RequestException):
        s.get(f"{server.url}/Jinan-U02/status", timeout=10)
    assert other.created
    alive(server)


def test_clients_that_vanish_do_not_stop_the_server(server):
    # A TCP connection that never speaks TLS, one that stops mid-handshake, one that stops mid-body.
    for _ in range(3):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    raw.sendall(b"\x16\x03\x01\x00\xff\x01")  # the start of a ClientHello
    raw.close()
    ctx = ssl.create_default_context(cafile=str(server.pki / "ca.pem"))
    ctx.load_cert_chain(server.pki / "sae/Jinan-U01.pem", server.pki / "sae/Jinan-U01.key")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as tcp:
            with ctx.wrap_socket(tcp, server_hostname="localhost") as tls:
                tls.sendall(b"POST /api/v1/keys/Jinan-U02/enc_keys HTTP/1.1\r\nHost: localhost\r\n"
                            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"numb")
    alive(server)


def test_log_lines_and_session_report(server):
    """Last in this module's server's life: SIGTERM, the report, the per-interval lines."""
    s = server.session("Hefei-U03")
    r = s.get(f"{server.url}/Hefei-U04/enc_keys?number=2", timeout=10)
    assert r.status_code == 200
    time.sleep(1.2)  # at least one summary line (--log-every 0.5)
    # A request in flight when SIGTERM comes: half its body sent before, half after. It is answered.
    ctx = ssl.create_default_context(cafile=str(server.pki / "ca.pem"))
    ctx.load_cert_chain(server.pki / "sae/Hefei-U05.pem", server.pki / "sae/Hefei-U05.key")
    body = b'{"number": 3, "size": 256}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="localhost") as tls:
            tls.sendall(b"POST /api/v1/keys/Hefei-U06/enc_keys HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
            time.sleep(0.3)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            tls.sendall(body[10:])
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ") and len(json.loads(reply.split(b"\r\n\r\n", 1)[1])["keys"]) == 3
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        server.session("Hefei-U03").get(f"{server.url}/Hefei-U04/status", timeout=5)
    out = server.stop()
    assert "satqkd: terminated: stopped serving after" in out
    err = server.stderr()
    assert re.search(r"INFO 2021-05-23 00:00:00 UTC in the plan: \d+ keys served \(.*Hefei-U03>Hefei-U04 2", err), err[-2000:]
    for k in r.json()["keys"]:
        assert k["key"] not in err
    pairs = pd.read_csv(server.out / "kme-pairs.csv")
    row = pairs.loc[(pairs["master_SAE_ID"] == "Hefei-U03") & (pairs["slave_SAE_ID"] == "Hefei-U04")]
    assert row["keys_served"].sum() == 2
    page = (server.out / "kme-session.html").read_text()
    assert page.count("<table") == 2 and "<polyline" in page and "Hefei-U03~Hefei-M3" in page
    assert server.proc.returncode == 0


# -- load: 50 SAEs, 2,000 exchanges, bits conserved --------------------------------------------

class RawClient:
    """One SAE on one keep-alive TLS connection (the stdlib's http.client and ssl, hostname verified)."""

    def __init__(self, srv: Server, sae: str):
        import http.client

        ctx = ssl.create_default_context(cafile=str(srv.pki / "ca.pem"))
        ctx.load_cert_chain(srv.pki / "sae" / f"{sae}.pem", srv.pki / "sae" / f"{sae}.key")
        self.conn = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=30)

    def post(self, path: str, body: dict):
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())


def test_load_50_saes_2000_exchanges_conserve_bits(china, tmp_path):
    """25 pairs of SAEs (50 SAEs, Jinan and Hefei), each SAE the master of 40 exchanges with its
    partner, all at once: every key the slave gets equals the master's, none is served twice, and
    each pool ends at the simulation's level at AT minus the bits of the keys relayed over it."""
    srv = Server(tmp_path, "--speed", "0", "--log-level", "warning", scenario=str(china["path"]))
    try:
        users = [f"Jinan-U{i:02d}" for i in range(1, 31)] + [f"Hefei-U{i:02d}" for i in range(21, 41)]
        pairs = [(users[2 * i], users[2 * i + 1]) for i in range(25)]
        got_master, got_slave, errors = {}, {}, []
        lock = threading.Lock()

        def worker(master, slave, n=40):
            # Plain http.client on one keep-alive TLS connection per SAE (cheaper than requests: CI time).
            cm, cs = RawClient(srv, master), RawClient(srv, slave)
            for j in range(n):
                status, body = cm.post(f"/api/v1/keys/{slave}/enc_keys", {"number": 1 + j % 3, "size": 256})
                if status != 200:
                    errors.append(body)
                    continue
                keys = {k["key_ID"]: k["key"] for k in body["keys"]}
                ids = {"key_IDs": [{"key_ID": k} for k in keys]}
                status, back = cs.post(f"/api/v1/keys/{master}/dec_keys", ids)
                with lock:
                    for k, v in keys.items():
                        assert k not in got_master
                        got_master[k] = (master, slave, v)
                    if status == 200:
                        for k in back["keys"]:
                            assert k["key_ID"] not in got_slave
                            got_slave[k["key_ID"]] = k["key"]
                    else:
                        errors.append(back)
                if j == n - 1:  # a second fetch is refused
                    status, again = cs.post(f"/api/v1/keys/{master}/dec_keys", ids)
                    if status != 400 or "keys" in again:
                        errors.append(("second fetch", again))

        with ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(worker, m, s) for m, s in pairs] + [pool.submit(worker, s, m) for m, s in pairs]
            for f in futures:
                f.result()
        assert not errors, errors[:3]
        assert len(got_master) == 50 * (14 * 1 + 13 * 2 + 13 * 3)  # 1+2+3 keys in turn, 40 exchanges each
        assert got_slave == {k: v[2] for k, v in got_master.items()}
        # Drain one satellite route to 503: refused, nothing spent beyond what the pools can give.
        s = srv.session("Urumqi-U02")
        codes = [s.post(f"{srv.url}/Beijing-U03/enc_keys", json={"number": 128, "size": 2048}, timeout=30).status_code
                 for _ in range(40)]
        assert 200 in codes and codes[-1] == 503 and codes.index(503) == codes.count(200)
        bits_drained = 128 * 2048 * codes.count(200)
    finally:
        srv.stop()
    assert srv.proc.returncode == 0
    pools = pd.read_csv(srv.out / "kme-pools.csv")
    last = pools.loc[pools["snapshot"] == pools["snapshot"].max()].reset_index(drop=True)
    table = pd.read_csv(srv.out / "kme-pairs.csv")
    net = china["network"]
    names = list(net.links["link"])
    edge = {frozenset((a, b)): k for k, (a, b) in enumerate(zip(net.links["a"], net.links["b"]))}
    expected = np.zeros(len(names))
    for route, bits in zip(table["route"].fillna(""), table["bits_served"]):
        hops = route.split(">") if route else []
        for a, b in zip(hops[:-1], hops[1:]):
            expected[edge[frozenset((a, b))]] += bits
    assert table["bits_served"].sum() == 256 * len(got_master) + bits_drained
    assert list(last["pool"]) == names
    np.testing.assert_allclose(last["consumed_bits"], expected)
    sat = net.links["kind"].to_numpy() == "satellite"
    fibre = ~sat
    np.testing.assert_allclose(last["generated_bits"][fibre], 0.0)  # --speed 0: the clock stands still
    np.testing.assert_allclose(last["level_bits"][fibre], china["level_bits"][fibre] - expected[fibre], atol=1e-6)
    # The satellite pool gains only what the relay, on demand, released: exactly what each request
    # lacked above the pool's minimum, so it ends at its minimum (it started at AT below it).
    minimum = net.pools[int(np.flatnonzero(sat)[0])].minimum_bits
    np.testing.assert_allclose(last["level_bits"][sat], minimum)
    np.testing.assert_allclose(last["generated_bits"][sat], expected[sat] + minimum - china["level_bits"][sat])


@pytest.mark.parametrize("args, words", [
    (["--speed", "-1"], "--speed: expected simulated seconds per real second from 0 to 1e7, got -1"),
    (["--port", "70000"], "--port: expected 0 to 65535, got 70000"),
    (["--log-level", "loud"], "--log-level: expected one of debug, info, warning, error, got 'loud'"),
    (["--at", "2021-06-01T00:00:00"], "--at 2021-06-01T00:00:00: outside the scenario's span; expected from "
                                      "2021-05-20T00:00:00 to before 2021-05-27T00:00:00 UTC"),
    (["--at", "soon"], "--at 'soon': expected an ISO date/time"),
])
def test_serve_bad_input_is_one_line_and_exit_2(args, words, capsys, tmp_path):
    from satqkd.cli import main

    assert main(["serve", "china-network", "--pki", str(tmp_path / "pki"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("satqkd: error: ") and words in err and err.count("\n") == 1
    assert not (tmp_path / "pki").exists()


def test_serve_needs_a_network(capsys):
    from satqkd.cli import main

    assert main(["serve", "micius-2017-xinglong"]) == 2
    assert "network: missing block" in capsys.readouterr().err


def test_serve_refuses_an_unusable_pki_before_computing(capsys, tmp_path, monkeypatch):
    import satqkd.kme.server
    from satqkd.cli import main

    def never(*args, **kwargs):
        raise AssertionError("the network was computed before the PKI was checked")

    monkeypatch.setattr(satqkd.kme.server, "build_twin", never)
    write_test_pki(tmp_path / "pki", ["Jinan-U01"])
    (tmp_path / "pki/server.key").write_bytes((tmp_path / "pki/sae/Jinan-U01.key").read_bytes())
    assert main(["serve", "china-network", "--pki", str(tmp_path / "pki")]) == 2
    err = capsys.readouterr().err
    assert "cannot use the certificates" in err and "key values mismatch" in err and err.count("\n") == 1
    (tmp_path / "pki/server.pem").unlink()
    assert main(["serve", "china-network", "--pki", str(tmp_path / "pki")]) == 2
    assert "has ca.pem, server.key but not server.pem" in capsys.readouterr().err
