"""Throughput and latency of the key-delivery server (not a test; run ``python benchmarks/bench_kme.py``).

``satqkd serve china-network --at 2021-05-23T00:00:00 --speed 0`` in its own
process on loopback; 50 SAEs (25 pairs of user sites in Jinan and Hefei),
each the master of ``--exchanges / 50`` exchanges with its partner, all at
once: an exchange is the master's ``POST enc_keys`` (1 to 3 keys of 256
bits) and the slave's ``POST dec_keys`` of the same key IDs, each client on
one keep-alive TLS connection (``http.client``, client certificate, the
server's certificate verified), opened before the clock starts (the
latencies are of requests, not of the 100 handshakes).  Every key the slave gets is checked against
the master's.

Baseline, same clients, same machine, runs alternated with ours (``--repeat``,
the fastest of each counts): cheroot with the same
TLS settings (TLS 1.2+, client certificate required and verified) and a WSGI
application that answers every request with a constant JSON body of the same
size, no network, no keys -- what the HTTP server and TLS alone cost.  The
ratio ours / baseline says what the ETSI 014 layer and the network twin add.

Prints readable lines, then one JSON object as the last line: requests/s,
p50 and p99 latency of enc_keys and dec_keys (ms), for ours and the
baseline.  Numbers from a shared machine are noisy; compare the ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

AT = "2021-05-23T00:00:00"
READY = re.compile(r"serving https://127\.0\.0\.1:(\d+)")
USERS = [f"Jinan-U{i:02d}" for i in range(1, 31)] + [f"Hefei-U{i:02d}" for i in range(21, 41)]

BASELINE = textwrap.dedent('''
    import json, ssl, sys
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter
    pki = sys.argv[1]
    body = json.dumps({"keys": [{"key_ID": "6f1c2a8e-4d7b-4c55-9a31-0b9e2f6d7c10", "key": "A" * 44}] * 2}).encode()
    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    srv = wsgi.Server(("127.0.0.1", 0), app, numthreads=16, request_queue_size=128)
    a = BuiltinSSLAdapter(pki + "/server.pem", pki + "/server.key", pki + "/ca.pem")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki + "/ca.pem")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(pki + "/server.pem", pki + "/server.key")
    a.context = ctx
    srv.ssl_adapter = a
    srv.keep_alive_conn_limit = 1024
    srv.prepare()
    print("serving https://127.0.0.1:%d" % srv.bind_addr[1], flush=True)
    try:
        srv.serve()
    except KeyboardInterrupt:
        srv.stop()
''')


def start(cmd, timeout_s=120.0):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = READY.search(line or "")
        if m:
            return proc, int(m.group(1))
        if not line:
            break
    proc.kill()
    raise SystemExit(f"no ready line from {cmd[:4]}")


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


class Client:
    """One SAE on one keep-alive TLS connection."""

    def __init__(self, pki: Path, sae: str, port: int):
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        ctx.load_cert_chain(pki / "sae" / f"{sae}.pem", pki / "sae" / f"{sae}.key")
        self.conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)

    def post(self, path: str, body: dict):
        data = json.dumps(body).encode()
        t = time.perf_counter()
        self.conn.request("POST", path, data, {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        out = r.read()
        return r.status, out, time.perf_counter() - t


def load(pki: Path, port: int, exchanges: int, check: bool):
    """50 SAEs at once; returns (seconds, enc latencies, dec latencies, errors)."""
    pairs = [(USERS[2 * i], USERS[2 * i + 1]) for i in range(25)]
    jobs = pairs + [(s, m) for m, s in pairs]
    per = max(exchanges // len(jobs), 1)
    enc, dec, errors = [], [], []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs) + 1)

    def worker(master, slave):
        cm, cs = Client(pki, master, port), Client(pki, slave, port)
        cm.conn.connect()  # the TLS handshakes happen before the clock starts
        cs.conn.connect()
        e, d = [], []
        barrier.wait()
        for j in range(per):
            status, out, dt = cm.post(f"/api/v1/keys/{slave}/enc_keys", {"number": 1 + j % 3, "size": 256})
            e.append(dt)
            if status != 200:
                errors.append(out[:200])
                continue
            keys = json.loads(out)["keys"]
            status, back, dt = cs.post(f"/api/v1/keys/{master}/dec_keys", {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]})
            d.append(dt)
            if status != 200 or (check and json.loads(back)["keys"] != keys):
                errors.append(back[:200])
        with lock:
            enc.extend(e)
            dec.extend(d)

    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, np.array(enc), np.array(dec), errors


def summary(name, seconds, enc, dec):
    n = enc.size + dec.size
    out = {"requests": int(n), "seconds": round(seconds, 3), "requests_per_s": round(n / seconds, 1),
           "enc_p50_ms": round(float(np.percentile(enc, 50)) * 1e3, 2), "enc_p99_ms": round(float(np.percentile(enc, 99)) * 1e3, 2),
           "dec_p50_ms": round(float(np.percentile(dec, 50)) * 1e3, 2), "dec_p99_ms": round(float(np.percentile(dec, 99)) * 1e3, 2)}
    print(f"{name:9s} {n} requests in {seconds:.2f} s: {out['requests_per_s']:.0f} requests/s; enc_keys p50 "
          f"{out['enc_p50_ms']} ms, p99 {out['enc_p99_ms']} ms; dec_keys p50 {out['dec_p50_ms']} ms, p99 {out['dec_p99_ms']} ms")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=2000, help="enc_keys + dec_keys exchanges in all (2000)")
    parser.add_argument("--repeat", type=int, default=3, help="alternated runs of baseline and ours; the fastest of each counts (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pki = Path(tmp) / "pki"
        t = time.perf_counter()
        ours, port = start([sys.executable, "-m", "satqkd", "serve", "china-network", "--at", AT, "--speed", "0",
                            "--port", "0", "--pki", str(pki), "--log-level", "warning"])
        startup_s = time.perf_counter() - t
        print(f"satqkd serve ready in {startup_s:.1f} s (passes of the week, network to {AT})")
        base, bport = start([sys.executable, "-c", BASELINE, str(pki)])
        runs = {"baseline": [], "satqkd": []}
        try:
            for _ in range(args.repeat):  # alternated, so both see the same background load
                runs["baseline"].append(load(pki, bport, args.exchanges, check=False)[:3])
                seconds, enc, dec, errors = load(pki, port, args.exchanges, check=True)
                if errors:
                    raise SystemExit(f"{len(errors)} failed exchanges, e.g. {errors[0]!r}")
                runs["satqkd"].append((seconds, enc, dec))
        finally:
            stop(base)
            stop(ours)
        # The fastest of the repeats of each: the least disturbed by other work on the machine.
        b = summary("baseline", *min(runs["baseline"], key=lambda r: r[0]))
        o = summary("satqkd", *min(runs["satqkd"], key=lambda r: r[0]))
    ratio = o["requests_per_s"] / b["requests_per_s"]
    print(f"satqkd serves {ratio:.2f}x the requests/s of the bare TLS server (same clients, same machine)")
    print(json.dumps({"benchmark": "kme", "exchanges": args.exchanges, "saes": 50, "startup_s": round(startup_s, 2),
                      "repeat": args.repeat, "ours": o, "baseline": b, "ratio_requests_per_s": round(ratio, 3)}))


if __name__ == "__main__":
    main()
