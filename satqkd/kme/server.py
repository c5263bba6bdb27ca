"""The key-delivery server: one HTTPS endpoint, mutual TLS, acting as the KME of every node.

:func:`build_twin` loads the network at an instant of a scenario
(passes from the pipeline; the network's
:class:`~satqkd.network.simulate.Simulation` with the scenario's requests
up to that instant, run up to there);
:func:`serve` puts it behind cheroot's threaded HTTP/1.1 server with
Python's ``ssl``: TLS 1.2 or later, a client certificate **required** and
verified against the PKI's CA during the handshake (a client without one,
or with one from another CA, never reaches the application), the verified
certificate's names handed to the WSGI application (``SSL_CLIENT_*``).

Operations: one log line a ``log_every_s`` (keys served per pair, pools
near empty: below their threshold, counting what the satellite could
relay); on stop (SIGTERM, Ctrl-C) the listening socket closes, requests in flight finish (up to
``shutdown_timeout_s``), and with ``out`` the session report is written
there (:func:`session_files`): ``kme-pairs.csv`` (keys served and refused
per pair and route), ``kme-pools.csv`` (every pool at each log interval:
level, state, bits generated / consumed / discarded since the start) and
``kme-session.html``.
"""

from __future__ import annotations

import html
import logging
import ssl
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SatqkdError
from .api import MAX_BODY_BYTES, make_app
from .pki import PkiFiles
from .twin import NetworkTwin

__all__ = ["build_twin", "serve", "session_files", "tls_context", "check_pki"]

log = logging.getLogger("satqkd.kme")


def build_twin(scenario, at=None, speed: float = 1.0, where: str = "--at", weather: bool | None = None) -> NetworkTwin:
    """The scenario's network at ``at`` (a UTC timestamp inside the span; default its start).

    ``weather`` as :func:`satqkd.pipeline.run`'s: None draws the scenario's
    weather year if it has a ``weather:`` block, False is every night clear."""
    from ..network.simulate import Simulation
    from ..pipeline import check_scenario, finish, run_unit, units

    if scenario.network is None:
        raise SatqkdError(f"{scenario.name}: network: missing block (nodes, fibre_links, satellite_links, demands)")
    start = pd.Timestamp(scenario.start.utc_datetime())
    span_s = (scenario.end.tt - scenario.start.tt) * 86400.0
    at_s = 0.0 if at is None else (pd.Timestamp(at) - start).total_seconds()
    if not 0.0 <= at_s < span_s:
        end = start + pd.to_timedelta(span_s, unit="s")
        raise SatqkdError(f"{where} {pd.Timestamp(at):%Y-%m-%dT%H:%M:%S}: outside the scenario's span; expected from "
                          f"{start:%Y-%m-%dT%H:%M:%S} to before {end:%Y-%m-%dT%H:%M:%S} UTC")
    # The key stage (passes, weather, schedule) as `satqkd run` has it; the
    # network is then simulated only up to the start instant.
    check_scenario(scenario)
    network = scenario.network
    passes = finish(scenario, [run_unit(scenario, u) for u in units(scenario)], weather=weather, network=False).passes
    sim = Simulation(network, passes, start, span_s, demand_until_s=at_s).run_until(at_s)
    return NetworkTwin(sim, speed)


def tls_context(pki: PkiFiles) -> ssl.SSLContext:
    """Server-side TLS: the server's certificate, client certificates required and checked against the CA."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(str(pki.cert), str(pki.key))
    return ctx


def _adapter(pki: PkiFiles):
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    try:
        adapter = BuiltinSSLAdapter(str(pki.cert), str(pki.key), str(pki.ca))
        adapter.context = tls_context(pki)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise SatqkdError(f"--pki {pki.ca.parent}: cannot use the certificates ({_one_line(exc)}); expected PEM files "
                          f"ca.pem, server.pem and server.key (the key matching the certificate)") from None
    return adapter


def check_pki(pki: PkiFiles) -> None:
    """Raise the one-line error :func:`serve` would give if the certificates are unusable."""
    _adapter(pki)


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


def _summary(twin: NetworkTwin, since: dict) -> str:
    """Keys served per pair since the last line, refusals, pools near empty."""
    with twin.lock:
        per_pair: dict = {}
        for (m, s, _), (keys, _bits) in twin.issued.items():
            per_pair[(m, s)] = per_pair.get((m, s), 0) + keys
        refused = sum(sum(v.values()) for v in twin.refused.values())
        # What a request could get: the pool, plus what the satellite could relay on demand.
        level = np.minimum(twin.pools.level + twin.sim.extra, twin.pools.capacity)
        low = np.flatnonzero(level < twin.pools.threshold)
        names = twin.network.links["link"].to_numpy()
        lows = [f"{names[i]} {level[i] / 1e6:.2f} Mbit" for i in low[np.argsort(level[low])][:5]]
    new = {k: v - since.get(k, 0) for k, v in per_pair.items() if v - since.get(k, 0) > 0}
    since.clear()
    since.update(per_pair)
    pairs = ", ".join(f"{m}>{s} {n}" for (m, s), n in sorted(new.items(), key=lambda kv: -kv[1])[:8])
    more = f" and {len(new) - 8} more pairs" if len(new) > 8 else ""
    near = "; pools near empty: " + ", ".join(lows) + (f" and {low.size - 5} more" if low.size > 5 else "") if low.size else ""
    return (f"{twin.now_utc():%Y-%m-%d %H:%M:%S} UTC in the plan: {sum(new.values())} keys served"
            f"{' (' + pairs + more + ')' if pairs else ''}, {refused} refused in all{near}")


def session_files(twin: NetworkTwin, snapshots: list, folder: Path, title: str) -> dict:
    """The session report: pairs and pools as CSV, and one small HTML page."""
    from ..io import render_table

    pairs = twin.pair_table()
    snapshots = snapshots or [twin.pool_table()]
    pools = pd.concat([s.assign(snapshot=k) for k, s in enumerate(snapshots)], ignore_index=True)
    pools.insert(0, "snapshot", pools.pop("snapshot"))
    last = pools.loc[pools["snapshot"] == len(snapshots) - 1]
    touched = last.loc[(last["consumed_bits"] > 0) | (last["level_bits"] < twin.pools.threshold.min())]
    first_t, last_t = pools["time_utc"].iloc[0], pools["time_utc"].iloc[-1]

    def table(frame) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(f'{v:,.0f}' if isinstance(v, (float, np.floating)) else str(v))}</td>"
                                        for v in r) + "</tr>" for r in frame.itertuples(index=False))
        return f"<table><tr>{head}</tr>{rows}</table>"

    def sparklines(names, width=560, height=70) -> str:
        """Level of each named pool at every snapshot, as small inline SVG lines (no script, opens offline)."""
        out = []
        for name in names:
            y = pools.loc[pools["pool"] == name, "level_bits"].to_numpy(dtype=float)
            top = max(float(y.max()), 1.0)
            xs = np.linspace(0, width, y.size) if y.size > 1 else np.array([0.0, width])
            ys = height - 4 - (height - 8) * (np.resize(y, xs.size) / top)
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
            out.append(f'<div><span class="pool">{html.escape(name)}</span> <svg width="{width}" height="{height}" role="img" aria-label="level of {html.escape(name)}">'
                       f'<rect width="{width}" height="{height}" fill="#f6f6f6"/>'
                       f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="1.5"/></svg> '
                       f'{y[0] / 1e6:,.3f} &rarr; {y[-1] / 1e6:,.3f} Mbit</div>')
        return "".join(out)

    # The pools that fell furthest, relative to their start: the ones an integrator watches.
    drop = (touched["start_level_bits"] - touched["level_bits"]) / touched["start_level_bits"].clip(lower=1.0)
    watched = list(touched.assign(drop=drop).loc[drop > 0].sort_values("drop", ascending=False)["pool"].head(8))
    served = int(pairs["keys_served"].sum()) if len(pairs) else 0
    refused = int(pairs[["refused_400", "refused_401", "refused_503"]].to_numpy().sum()) if len(pairs) else 0
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: key-delivery session</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}table{{border-collapse:collapse;font-size:.85em}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}td:first-child,th:first-child{{text-align:left}}
.pool{{display:inline-block;width:16em}}svg{{vertical-align:middle}}
table.pairs td:nth-child(3){{text-align:left;font-size:.85em;max-width:40em}}</style></head>
<body><h1>{html.escape(title)}: key-delivery session</h1>
<p><b>{served} key{"" if served == 1 else "s"} served, {refused} request{"" if refused == 1 else "s"} refused</b> from {html.escape(first_t)} to {html.escape(last_t)} (simulated time,
{twin.speed:g} simulated s per real s); {twin.passes_arrived} satellite passes left key on board and {twin.relay_commands} relay commands were issued during the session.</p>
<h2>Per pair and route</h2>{table(pairs).replace('<table>', '<table class="pairs">', 1)}
<h2>Levels over the session</h2><p>The pools that fell most (from the start to each log interval; simulated
time runs left to right).</p>{sparklines(watched) if len(snapshots) > 1 and watched else "<p>No pool ended lower than it started.</p>"}
<h2>Pools used or below their threshold at the end</h2>{table(touched[["pool", "kind", "start_level_bits", "generated_bits",
"consumed_bits", "discarded_bits", "level_bits", "state"]])}
<p>Every pool at every log interval: kme-pools.csv. Bits are conserved per pool: start + generated = level + consumed + discarded.</p>
</body></html>
"""
    return {folder / "kme-pairs.csv": render_table(pairs, folder / "kme-pairs.csv"),
            folder / "kme-pools.csv": render_table(pools, folder / "kme-pools.csv"),
            folder / "kme-session.html": page}


class _Server:
    """cheroot's WSGI server with our TLS context and its errors in our log."""

    def __init__(self, twin: NetworkTwin, pki: PkiFiles, host: str, port: int, threads: int, shutdown_timeout_s: float):
        from cheroot import wsgi

        adapter = _adapter(pki)
        self.http = wsgi.Server((host, port), make_app(twin), numthreads=threads, server_name="satqkd-kme",
                                shutdown_timeout=shutdown_timeout_s, request_queue_size=128)
        self.http.ssl_adapter = adapter
        self.http.max_request_body_size = MAX_BODY_BYTES
        self.http.max_request_header_size = 16384
        # A silent client holds the accepting thread at most this long (cheroot
        # does the TLS handshake there), and an idle request this long.
        self.http.timeout = 5
        # Keep-alive connections kept open while idle (cheroot's default is 10,
        # which makes a busy integrator's clients pay a TLS handshake per request).
        self.http.keep_alive_conn_limit = 1024
        self.http.error_log = self._error_log

    @staticmethod
    def _error_log(msg="", level=logging.INFO, traceback=False):
        # Refused handshakes and dropped clients are the clients' business: debug lines.
        log.log(logging.ERROR if traceback else logging.DEBUG, "server: %s", _one_line(msg), exc_info=traceback)


def serve(twin: NetworkTwin, pki: PkiFiles, host: str = "127.0.0.1", port: int = 8443, *, out: Path | None = None,
          title: str = "satqkd", log_every_s: float = 60.0, threads: int = 16, shutdown_timeout_s: float = 5.0,
          on_ready=None, stop: threading.Event | None = None) -> dict:
    """Serve until ``stop`` is set or an exception (Ctrl-C, SIGTERM) reaches this thread.

    ``on_ready(host, port)`` is called once the socket listens (port 0 picks a
    free one).  Returns the files written to ``out`` (none without it).
    """
    srv = _Server(twin, pki, host, port, threads, shutdown_timeout_s)
    try:
        srv.http.prepare()
    except OSError as exc:
        raise SatqkdError(f"--host {host} --port {port}: cannot listen ({exc.strerror or _one_line(exc)})") from None
    bound = srv.http.bind_addr
    thread = threading.Thread(target=srv.http.serve, name="kme-serve", daemon=True)
    twin.start_clock()
    thread.start()
    snapshots = [twin.pool_table()]
    if on_ready is not None:
        on_ready(bound[0], bound[1])
    since: dict = {}
    stop = stop or threading.Event()
    next_log = time.monotonic() + log_every_s
    try:
        while thread.is_alive() and not stop.wait(min(0.2, max(next_log - time.monotonic(), 0.0))):
            if time.monotonic() >= next_log:
                next_log += log_every_s
                log.info("%s", _summary(twin, since))
                snapshots.append(twin.pool_table())
    finally:
        srv.http.stop()  # stop accepting; requests in flight finish
        thread.join(shutdown_timeout_s + 1.0)
        snapshots.append(twin.pool_table())
        log.info("%s", _summary(twin, since))
    if out is None:
        return {}
    from ..io import prepare_dir, write_files

    return dict.fromkeys(write_files(session_files(twin, snapshots, prepare_dir(out), title)))
