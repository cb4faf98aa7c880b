#!/usr/bin/env python3
"""Redocly Respect and pytopus run the same Arazzo files against the same
local pet store (a small server in this script, on 127.0.0.1): the
requests each sent (method and path, in order), pass or fail, and the
workflows' outputs must be the same. Then each runs every file ROUNDS
times, alternating, and the median times are compared.

Needs Redocly's CLI (`../shared/peers/clients.sh`, or REDOCLY=path to the
`redocly` script) and a pytopus binary (PYTOPUS_BIN, default
target/release/pytopus, else target/debug/pytopus).

    python3 bench/peers/respect_vs_pytopus.py [ROUNDS]

Not part of `cargo test`: it needs node and Redocly's CLI.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.environ.get("PEERS", "/tmp/pytopus-peers")
REDOCLY = os.environ.get("REDOCLY", os.path.join(PEERS, "clients/node_modules/.bin/redocly"))
PYTOPUS = os.environ.get("PYTOPUS_BIN") or next(
    p for p in [os.path.join(ROOT, "target/release/pytopus"), os.path.join(ROOT, "target/debug/pytopus")]
    if os.path.exists(p)
)
FIXTURES = os.path.join(ROOT, "tests/fixtures/arazzo")

SENT = []
STATE = {"flaky": 0}


class Store(BaseHTTPRequestHandler):
    """The pet store of tests/it/arazzo: a login, pets, a flaky endpoint."""

    def log_message(self, *_):
        pass

    def answer(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        # What the workflows' outputs decide: the query, the token, the header
        # built from an output, the body.
        seen = f"{self.command} {url.path}" + (f"?{url.query}" if url.query else "")
        for h in ["Authorization", "X-Trace"]:
            if self.headers.get(h):
                seen += f" {h}: {self.headers.get(h)}"
        if raw:
            seen += " " + json.dumps(json.loads(raw), sort_keys=True)
        SENT.append(seen)
        auth = self.headers.get("Authorization", "")
        if (self.command, url.path) == ("POST", "/v1/login"):
            body = json.loads(raw or b"{}")
            if body.get("password") != "hunter2":
                return self.answer(401, {"error": "bad password"})
            STATE["flaky"] = 0
            return self.answer(200, {"token": "tok-" + str(body.get("username"))}, [("X-Rate-Limit", "100")])
        if url.path == "/v1/pets" and auth != "Bearer tok-alice":
            return self.answer(401, {"error": "who are you?"})
        if (self.command, url.path) == ("GET", "/v1/pets"):
            return self.answer(200, [{"id": 7, "name": "Rex", "status": "available"},
                                     {"id": 8, "name": "Tom", "status": "sold"}])
        if (self.command, url.path) == ("GET", "/v1/pets/7"):
            return self.answer(200, {"id": 7, "name": "Rex", "status": "available"})
        if (self.command, url.path) == ("GET", "/v1/flaky"):
            STATE["flaky"] += 1
            if STATE["flaky"] <= 2:
                return self.answer(503, None, [("Retry-After", "0")])
            return self.answer(200, {"ok": True})
        if (self.command, url.path) == ("GET", "/v1/health"):
            return self.answer(200, {"up": True})
        return self.answer(404, {"error": "no such thing"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def timed(cmd, env=None):
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return done, time.perf_counter() - started


def respect(file, base, work, inputs):
    out = os.path.join(work, "respect.json")
    cmd = [REDOCLY, "respect", file, "--server", f"petstore={base}", "--json-output", out,
           "--workflow", "pets"]
    for k, v in inputs.items():
        cmd += ["--input", f"{k}={v}"]
    done, took = timed(cmd)
    return done, took, None


def pytopus(file, base, inputs, secrets):
    env = dict(os.environ)
    for k, v in secrets.items():
        env["PYTOPUS_SECRET_" + k.upper()] = v
    cmd = [PYTOPUS, "run", file, "--var", f"server_petstore={base}", "-q", "--no-history",
           "--workflow", "pets"]
    for k, v in inputs.items():
        cmd += ["--var", f"{k}={v}"]
    done, took = timed(cmd, env)
    try:
        outputs = json.loads(done.stdout or "null")
    except ValueError:
        outputs = None
    return done, took, outputs


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if not os.path.exists(REDOCLY):
        sys.exit(f"no Redocly CLI at {REDOCLY}: run ../shared/peers/clients.sh or set REDOCLY")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/v1"
    work = tempfile.mkdtemp(prefix="respect-")
    for f in ["pets.arazzo.yaml", "petstore.yaml"]:
        shutil.copy(os.path.join(FIXTURES, f), work)
    file = os.path.join(work, "pets.arazzo.yaml")
    ok = True

    # Alice's token opens the pets; Bob's does not, so both must fail at `list`.
    for user in ["alice", "bob"]:
        SENT.clear()
        r_done, r_took, _ = respect(file, base, work, {"username": user, "password": "hunter2"})
        r_sent = list(SENT)
        SENT.clear()
        p_done, p_took, p_out = pytopus(file, base, {"username": user}, {"password": "hunter2"})
        p_sent = list(SENT)
        print(f"username={user}")
        print(f"respect: exit {r_done.returncode}, {len(r_sent)} requests, {r_took * 1000:.0f} ms")
        print(f"pytopus: exit {p_done.returncode}, {len(p_sent)} requests, {p_took * 1000:.0f} ms")
        for i in range(max(len(r_sent), len(p_sent))):
            a = r_sent[i] if i < len(r_sent) else "-"
            b = p_sent[i] if i < len(p_sent) else "-"
            print(f"  {'=' if a == b else '!'} {a}" + ("" if a == b else f"\n    pytopus: {b}"))
        if r_sent != p_sent:
            ok = False
            print("the requests differ")
        if (r_done.returncode == 0) != (p_done.returncode == 0) or (r_done.returncode == 0) != (user == "alice"):
            ok = False
            print("pass/fail differ:\n" + r_done.stdout[-3000:] + "\n" + p_done.stderr[-3000:])
        # Respect's JSON report has no outputs; the requests above carry them
        # (the token, the first pet's id in the path and in X-Trace).
        if user == "alice":
            print(f"pytopus outputs: {json.dumps(p_out, sort_keys=True)}")
            if p_out != {"name": "Rex", "status": "available"}:
                ok = False
                print("pytopus's outputs are not the store's")

    times = {"respect": [], "pytopus": []}
    for _ in range(rounds):
        _, t, _ = respect(file, base, work, {"username": "alice", "password": "hunter2"})
        times["respect"].append(t)
        _, t, _ = pytopus(file, base, {"username": "alice"}, {"password": "hunter2"})
        times["pytopus"].append(t)
    r_med = statistics.median(times["respect"])
    p_med = statistics.median(times["pytopus"])
    print(f"median of {rounds}: respect {r_med * 1000:.0f} ms, pytopus {p_med * 1000:.1f} ms, "
          f"pytopus ÷ respect = {p_med / r_med:.3f}")
    server.shutdown()
    print("same requests, same result" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
