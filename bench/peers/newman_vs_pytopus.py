#!/usr/bin/env python3
"""newman and pytopus run the same Postman collection against the same
json-server (`../shared/peers/start.sh`, port 18081): newman runs the
collection, pytopus runs what `pytopus import postman` made of it. The
requests each sent (method and path, in order) and the checks that passed
must be the same. Needs newman (`../shared/peers/clients.sh`), json-server
running, and a pytopus binary (PYTOPUS_BIN, default target/debug/pytopus).

    python3 bench/peers/newman_vs_pytopus.py [COLLECTION]

Not part of `cargo test`: it needs node and the peers.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.environ.get("PEERS", "/tmp/pytopus-peers")
NEWMAN = os.path.join(PEERS, "clients/node_modules/.bin/newman")
PYTOPUS = os.environ.get("PYTOPUS_BIN", os.path.join(ROOT, "target/debug/pytopus"))
BASE = os.environ.get("JSON_SERVER", "http://127.0.0.1:18081")


def run(cmd, **kw):
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return done, time.perf_counter() - started


def newman(collection, out):
    done, took = run([NEWMAN, "run", collection, "--env-var", f"baseUrl={BASE}",
                      "--reporters", "json", "--reporter-json-export", out])
    report = json.load(open(out))
    sent, passed, failed = [], 0, 0
    for ex in report["run"]["executions"]:
        req = ex["request"]
        path = "/" + "/".join(req["url"]["path"])
        sent.append(f'{req["method"]} {path}')
        for a in ex.get("assertions", []):
            if a.get("error"):
                failed += 1
            else:
                passed += 1
    return done.returncode, sent, passed, failed, took


def pytopus(collection, workdir):
    imported, _ = run([PYTOPUS, "import", "postman", collection])
    if imported.returncode != 0:
        sys.exit(f"import failed:\n{imported.stderr}")
    chain = os.path.join(workdir, "chain.yaml")
    open(chain, "w").write(imported.stdout)
    report = os.path.join(workdir, "report.json")
    done, took = run([PYTOPUS, "run", chain, "--no-history", "-q", "--var", f"baseUrl={BASE}",
                      "--report", report])
    steps = json.load(open(report))["steps"]
    sent = []
    for s in steps:
        req = s.get("request") or {}
        if req.get("url"):
            sent.append(f'{req["method"]} {urlsplit(req["url"]).path}')
    ok = sum(1 for s in steps if s.get("status") == "passed")
    return done.returncode, sent, ok, len(steps) - ok, took, imported.stdout


def main():
    collection = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "crud.postman_collection.json")
    if not os.path.exists(NEWMAN):
        sys.exit(f"newman is not installed at {NEWMAN}: run ../shared/peers/clients.sh")
    with tempfile.TemporaryDirectory() as tmp:
        n_code, n_sent, n_pass, n_fail, n_took = newman(collection, os.path.join(tmp, "newman.json"))
        p_code, p_sent, p_ok, p_bad, p_took, chain = pytopus(collection, tmp)
    print(f"newman : exit {n_code}, {len(n_sent)} requests, {n_pass} assertions passed, {n_fail} failed, {n_took * 1000:.0f} ms")
    print(f"pytopus: exit {p_code}, {len(p_sent)} requests, {p_ok} steps passed, {p_bad} failed, {p_took * 1000:.0f} ms")
    same = n_sent == p_sent
    for a, b in zip(n_sent, p_sent):
        print(f"  {'=' if a == b else '≠'} newman {a:<28} pytopus {b}")
    verdict = same and n_code == 0 and p_code == 0 and n_fail == 0 and p_bad == 0
    print("same requests, every check passed" if verdict else "DIFFERENT")
    if not verdict:
        print(chain)
    sys.exit(0 if verdict else 1)


if __name__ == "__main__":
    main()
