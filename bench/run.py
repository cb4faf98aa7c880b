#!/usr/bin/env python3
"""pytopus benchmark harness: pytopus against a floor program, same server, same run.

Usage: python3 bench/run.py [--quick] [--only W1,W2] [--rounds N] [--list]

Environment:
  PYTOPUS_BIN   use this pytopus binary instead of building one
  PYTOPUS_SRC   build this source tree in place (uncommitted changes included)
                instead of a snapshot of /work/main's HEAD in a git worktree
  BENCH_DIR     scratch directory (default /tmp/pytopus-bench)

See bench/README.md for the workloads, the targets and how to read the table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH_DIR = Path(os.environ.get("BENCH_DIR", "/tmp/pytopus-bench"))
WORKTREE = Path("/tmp/pytopus-bench-wt")
PYTOPUS_TARGET = Path("/tmp/pytopus-bench-target")
FLOOR_DIR = HERE / "floor"

SMALL_FILES = 10_001  # /s/0.json .. /s/10000.json (the last step's `next` exists too)
FANOUT_ITEMS = 10_000
FANOUT_CONCURRENCY = 64
BIG_BYTES = 100_000_000
DATA_VERSION = "4"  # bump when the generated files change


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- tools


def ensure_tools() -> None:
    """Installs nginx, hyperfine and GNU time from Debian when missing."""
    missing = []
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        missing.append("nginx-light")
    if not shutil.which("hyperfine"):
        missing.append("hyperfine")
    if not Path("/usr/bin/time").exists():
        missing.append("time")
    if not shutil.which("cargo"):
        sys.exit("bench: cargo is needed (Rust toolchain)")
    if not missing:
        return
    log(f"installing {' '.join(missing)} (apt-get)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(sudo + ["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
    res = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + missing, env=env,
                         stdout=subprocess.DEVNULL)
    if res.returncode != 0 and "nginx-light" in missing:
        # Debian releases without nginx-light: the plain package.
        missing = ["nginx" if m == "nginx-light" else m for m in missing]
        run(sudo + ["apt-get", "install", "-y", "-qq"] + missing, env=env,
            stdout=subprocess.DEVNULL)
    elif res.returncode != 0:
        sys.exit("bench: apt-get install failed")


def nginx_bin() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def ensure_certs(root: Path) -> Path:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl), made once:
    the HTTPS workloads trust the CA (pytopus with `tls: {ca_cert}`, the
    floor with FLOOR_CA)."""
    tls = root / "tls"
    if (tls / "server.pem").exists():
        return tls
    tls.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", str(tls / "ca.key"), "-out", str(tls / "ca.pem"),
         "-days", "3650", "-subj", "/CN=pytopus bench CA"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    run(["openssl", "req", *ec, "-keyout", str(tls / "server.key"), "-out", str(tls / "server.csr"),
         "-subj", "/CN=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (tls / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", str(tls / "server.csr"), "-CA", str(tls / "ca.pem"),
         "-CAkey", str(tls / "ca.key"), "-CAcreateserial", "-out", str(tls / "server.pem"),
         "-days", "3650", "-extfile", str(tls / "server.ext")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tls


# ---------------------------------------------------------------- data


def small_body(i: int) -> str:
    return json.dumps({
        "id": i,
        "next": f"/s/{i + 1}.json",
        "name": f"item {i}",
        "tags": ["alpha", "beta", "gamma"],
        "score": i * 0.5,
        "active": True,
        "owner": {"id": i % 97, "login": f"user{i % 97}"},
        "note": "lorem ipsum dolor sit amet, consectetur adipiscing elit",
    }, separators=(",", ":"))


def generate_data(www: Path) -> None:
    stamp = www / ".version"
    if stamp.exists() and stamp.read_text() == DATA_VERSION:
        return
    log(f"generating files in {www}")
    if www.exists():
        shutil.rmtree(www)
    (www / "s").mkdir(parents=True)
    for i in range(SMALL_FILES):
        (www / "s" / f"{i}.json").write_text(small_body(i))
    (www / "list.json").write_text(json.dumps(list(range(FANOUT_ITEMS))))
    # ~100 MB: an array of ~1M small objects, the shape of a large API export.
    with open(www / "big.json", "w") as f:
        f.write("[")
        written, i, parts = 1, 0, []
        while written < BIG_BYTES - 200:
            row = (f'{{"id":{i},"name":"record-{i}","tags":["alpha","beta"],'
                   f'"score":{i % 1000}.25,"active":{"true" if i % 3 else "false"},'
                   f'"parent":{"null" if i % 5 else i // 5},'
                   f'"text":"the quick brown fox jumps over the lazy dog {i % 10}"}}')
            row = ("," if i else "") + row
            parts.append(row)
            written += len(row)
            i += 1
            if len(parts) == 10_000:
                f.write("".join(parts))
                parts = []
        f.write("".join(parts))
        f.write("]")
    stamp.write_text(DATA_VERSION)


def q(s: str) -> str:
    """A YAML double-quoted scalar."""
    return json.dumps(s)


def seq_chain(n: int, base: str, rich: bool = False) -> str:
    """n steps; step i GETs the URL built from step i-1's body (`next`)."""
    out = [f"name: seq{n}", f"vars: {{base: {q(base)}}}", "steps:"]
    for i in range(n):
        url = f"{{{{ base }}}}/s/0.json" if i == 0 else f"{{{{ base }}}}{{{{ s{i - 1}.next }}}}"
        out.append(f"  - name: s{i}")
        out.append(f"    url: {q(url)}")
        if rich:  # for `validate`: the keys a real chain uses
            if i:
                out.append(f"    headers: {{X-Prev: {q(f'{{{{ id_{i - 1} }}}}')}}}")
                out.append(f"    query_params: {{owner: {q(f'{{{{ s{i - 1}.owner.login }}}}')}}}")
            out.append(f"    extract: {{id_{i}: \"$.id\", login_{i}: \"$.owner.login\"}}")
            out.append("    expect: {status: 200, json: {\"$.active\": true}}")
    return "\n".join(out) + "\n"


def with_ca(chain: str, ca: Path) -> str:
    """The chain with `defaults: {tls: {ca_cert}}` after its `vars:` line."""
    head, rest = chain.split("\nsteps:\n", 1)
    return f"{head}\ndefaults: {{tls: {{ca_cert: {q(str(ca))}}}}}\nsteps:\n{rest}"


def write_https_chains(chains: Path, bases: dict[str, str], ca: Path) -> dict[str, Path]:
    """The HTTPS workloads' chains: `<name>_h1` over HTTP/1.1, `<name>_h2`
    over HTTP/2, each trusting the bench's CA."""
    chains.mkdir(parents=True, exist_ok=True)
    paths = {}
    for proto, base in bases.items():
        for name, text in {
            "one": "\n".join(["name: one", f"vars: {{base: {q(base)}}}", "steps:",
                              "  - name: One", "    url: \"{{ base }}/s/0.json\"", ""]),
            "seq1000": seq_chain(1000, base),
            "fanout": "\n".join([
                "name: fanout", f"vars: {{base: {q(base)}}}", "steps:",
                "  - name: List", "    url: \"{{ base }}/list.json\"",
                "  - name: Fan", "    for_each: \"{{ List }}\"",
                f"    concurrency: {FANOUT_CONCURRENCY}",
                "    url: \"{{ base }}/s/{{ item }}.json\"", ""]),
        }.items():
            p = chains / f"{name}_{proto}.yaml"
            p.write_text(with_ca(text, ca))
            paths[f"{name}_{proto}"] = p
    return paths


def write_chains(chains: Path, base: str, big_out: Path,
                 upload: tuple[str, Path] | None = None) -> dict[str, Path]:
    """The chains of the plain-HTTP workloads; `upload` is the upload sink's
    base URL and the file to upload (the `upload` workload)."""
    chains.mkdir(parents=True, exist_ok=True)
    files = {
        "seq1000": seq_chain(1000, base),
        "seq10000": seq_chain(10000, base),
        "validate50": seq_chain(50, base, rich=True),
        "one": "\n".join([
            "name: one", f"vars: {{base: {q(base)}}}", "steps:",
            "  - name: One", "    url: \"{{ base }}/s/0.json\"", ""]),
        "fanout": "\n".join([
            "name: fanout", f"vars: {{base: {q(base)}}}", "steps:",
            "  - name: List", "    url: \"{{ base }}/list.json\"",
            "  - name: Fan", "    for_each: \"{{ List }}\"",
            f"    concurrency: {FANOUT_CONCURRENCY}",
            "    url: \"{{ base }}/s/{{ item }}.json\"", ""]),
        "big": "\n".join([
            "name: big", f"vars: {{base: {q(base)}}}", "steps:",
            "  - name: Big", "    url: \"{{ base }}/big.json\"", ""]),
        "save": "\n".join([
            "name: save", f"vars: {{base: {q(base)}}}", "steps:",
            "  - name: Save", "    url: \"{{ base }}/big.json\"",
            f"    save_to: {q(str(big_out))}", ""]),
    }
    if upload is not None:
        sink, upload_file = upload
        files["upload"] = "\n".join([
            "name: upload", f"vars: {{sink: {q(sink)}}}", "steps:",
            "  - name: Upload", "    url: \"{{ sink }}/upload\"",
            f"    multipart: {{file: {q('@' + str(upload_file))}}}", ""])
    paths = {}
    for name, text in files.items():
        p = chains / f"{name}.yaml"
        p.write_text(text)
        paths[name] = p
    return paths


@contextlib.contextmanager
def training(prefix: str):
    """The pytopus commands a profile is taken from (the link order of
    bench/order.py, the profile of bench/pgo.py), with nginx serving their
    data meanwhile: start-up, `validate`, one request, the 1000-step chain
    with and without its progress lines, the fan-out, and the 1000-step
    chain over HTTPS (HTTP/1.1 and HTTP/2). Yields the commands' arguments,
    the environment to run them in (a history of their own) and a scratch
    directory, all removed afterwards."""
    www = BENCH_DIR / "www"
    generate_data(www)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    env = dict(os.environ, PYTOPUS_HISTORY_DIR=str(work / "history"))
    nginx, ports = start_nginx(BENCH_DIR, www)
    try:
        chains = write_chains(work / "chains", f"http://127.0.0.1:{ports['http']}",
                              work / "big.json")
        https = {p: f"https://127.0.0.1:{ports[p]}" for p in ("h1", "h2")}
        chains.update(write_https_chains(work / "chains", https, BENCH_DIR / "tls" / "ca.pem"))
        runs = [
            ["--version"],
            ["validate", str(chains["validate50"])],
            ["run", "-q", str(chains["one"])],
            ["run", str(chains["seq1000"])],
            ["run", "-q", str(chains["seq1000"])],
            ["run", "-q", str(chains["fanout"])],
            ["run", "-q", str(chains["seq1000_h1"])],
            ["run", "-q", str(chains["seq1000_h2"])],
        ]
        yield runs, env, work
    finally:
        stop_nginx(nginx)
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(root: Path, www: Path) -> tuple[subprocess.Popen, dict[str, int]]:
    """nginx serving `www` on three ports of 127.0.0.1: plain HTTP (`http`),
    HTTPS with HTTP/1.1 only (`h1`) and HTTPS with HTTP/2 (`h2`)."""
    port, h1, h2 = free_port(), free_port(), free_port()
    tls = ensure_certs(root)
    prefix = root / f"nginx-{os.getpid()}"  # several harnesses may run at once
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    types {{ application/json json; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    open_file_cache max=20000 inactive=300s;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    ssl_certificate {tls}/server.pem;
    ssl_certificate_key {tls}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    http2_max_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
    server {{
        listen 127.0.0.1:{h1} ssl;
        root {www};
    }}
    server {{
        listen 127.0.0.1:{h2} ssl http2;
        root {www};
    }}
}}
""")
    proc = subprocess.Popen([nginx_bin(), "-p", str(prefix), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, {"http": port, "h1": h1, "h2": h2}
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"bench: nginx did not start: {proc.stderr.read().decode()}")
            time.sleep(0.05)
    proc.kill()
    sys.exit("bench: nginx did not answer")


def stop_nginx(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)  # graceful: the master stops its worker
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    shutil.rmtree(Path(proc.args[2]), ignore_errors=True)


# ---------------------------------------------------------------- builds


def build_pytopus() -> tuple[Path, str]:
    if os.environ.get("PYTOPUS_BIN"):
        return Path(os.environ["PYTOPUS_BIN"]).resolve(), "PYTOPUS_BIN"
    env = dict(os.environ, CARGO_TARGET_DIR=str(PYTOPUS_TARGET))
    if os.environ.get("PYTOPUS_SRC"):
        src = Path(os.environ["PYTOPUS_SRC"]).resolve()
        desc = f"{src} (working tree)"
    else:
        # A snapshot of HEAD, so edits in progress in /work/main never race the build.
        head = run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                   capture_output=True, text=True).stdout.strip()
        if (WORKTREE / ".git").exists():
            run(["git", "-C", str(WORKTREE), "checkout", "-q", "--detach", head])
        else:
            run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach",
                 str(WORKTREE), head])
        src = WORKTREE
        desc = f"{head[:10]} (HEAD snapshot)"
    log(f"building pytopus --release from {desc}")
    run(["cargo", "build", "--release", "--locked", "-q"], cwd=src, env=env)
    return PYTOPUS_TARGET / "release" / "pytopus", desc


def build_floor() -> Path:
    log("building the floor --release")
    locked = ["--locked"] if (FLOOR_DIR / "Cargo.lock").exists() else []
    run(["cargo", "build", "--release", "-q"] + locked, cwd=FLOOR_DIR)
    return FLOOR_DIR / "target" / "release" / "pytopus-bench-floor"


# How big the `upload` workload's file is: sparse, so it takes no disk.
UPLOAD_BYTES = 1 << 30


def upload_file(path: Path) -> Path:
    """A sparse file of UPLOAD_BYTES zeros (made once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.stat().st_size != UPLOAD_BYTES:
        with open(path, "wb") as f:
            f.truncate(UPLOAD_BYTES)
    return path


class _Sink(http.server.BaseHTTPRequestHandler):
    """Reads a POST's whole body (Content-Length) and answers how many MiB
    came: nginx answers a `return` before it has read the body, and the
    client would then stop sending it."""
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        left = int(self.headers.get("content-length", "0"))
        got = 0
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            got += len(chunk)
            left -= len(chunk)
        # Whole MiB: the same for pytopus and the floor, whose multipart
        # framing differs by a few bytes.
        body = json.dumps({"received_mib": got >> 20}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def start_upload_sink() -> http.server.ThreadingHTTPServer:
    """The `upload` workload's server, on a free port of 127.0.0.1; its
    base URL is its `url`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------- workloads


@dataclass
class Workload:
    name: str
    what: str
    pytopus: list[str]
    floor: list[str]
    floor_mt: list[str] | None = None
    rounds: int = 5
    runs: int = 10
    warmup: int = 2
    time_target: tuple[str, float] | None = None  # ("ratio", 1.2) or ("ms", 3.0)
    rss_target: tuple[str, float] | None = None  # ("ratio", 1.2) or ("mib", 15)
    rss: bool = True
    compare_stdout: bool = True
    results: dict = field(default_factory=dict)


def workloads(py: Path, fl: Path, chains: dict[str, Path], base: str,
              big_out: Path, https: dict[str, str],
              upload: tuple[str, Path] | None = None) -> list[Workload]:
    P, F = str(py), str(fl)
    run_ = [P, "run", "-q"]
    return [
        Workload("version", "--version", [P, "--version"], [F, "--version"],
                 rounds=5, runs=30, warmup=5, time_target=("ms", 3.0),
                 compare_stdout=False, rss=False),
        Workload("one", "one-request chain", run_ + [str(chains["one"])],
                 [F, "get", f"{base}/s/0.json"], rounds=5, runs=30, warmup=5,
                 time_target=("ratio", 1.5)),
        Workload("validate50", "validate of a 50-step chain (floor: --version)",
                 [P, "validate", str(chains["validate50"])], [F, "--version"],
                 rounds=5, runs=30, warmup=5, time_target=("ms", 5.0),
                 compare_stdout=False, rss=False),
        Workload("seq1000", "1000-step sequential templated chain",
                 run_ + [str(chains["seq1000"])], [F, "seq", base, "/s/0.json", "1000"],
                 [F, "--mt", "seq", base, "/s/0.json", "1000"],
                 rounds=5, runs=8, warmup=2, time_target=("ratio", 1.2),
                 rss_target=("mib", 15)),
        Workload("seq10000", "10,000-step sequential templated chain",
                 run_ + [str(chains["seq10000"])], [F, "seq", base, "/s/0.json", "10000"],
                 [F, "--mt", "seq", base, "/s/0.json", "10000"],
                 rounds=5, runs=2, warmup=1, time_target=("ratio", 1.2)),
        Workload("fanout", f"for_each over {FANOUT_ITEMS} items, concurrency {FANOUT_CONCURRENCY}",
                 run_ + [str(chains["fanout"])],
                 [F, "fanout", base, "/list.json", str(FANOUT_CONCURRENCY)],
                 [F, "--mt", "fanout", base, "/list.json", str(FANOUT_CONCURRENCY)],
                 rounds=5, runs=4, warmup=1, time_target=("ratio", 1.25)),
        Workload("one_h2", "one-request chain over HTTPS (HTTP/2)",
                 run_ + [str(chains["one_h2"])], [F, "get", f"{https['h2']}/s/0.json"],
                 rounds=5, runs=20, warmup=3, time_target=("ratio", 1.5)),
        Workload("seq1000_h1", "1000-step sequential chain over HTTPS (HTTP/1.1)",
                 run_ + [str(chains["seq1000_h1"])],
                 [F, "seq", https["h1"], "/s/0.json", "1000"],
                 rounds=5, runs=8, warmup=2, time_target=("ratio", 1.2)),
        Workload("seq1000_h2", "1000-step sequential chain over HTTPS (HTTP/2)",
                 run_ + [str(chains["seq1000_h2"])],
                 [F, "seq", https["h2"], "/s/0.json", "1000"],
                 rounds=5, runs=8, warmup=2, time_target=("ratio", 1.2)),
        Workload("fanout_h1", f"for_each over {FANOUT_ITEMS} items over HTTPS (HTTP/1.1)",
                 run_ + [str(chains["fanout_h1"])],
                 [F, "fanout", https["h1"], "/list.json", str(FANOUT_CONCURRENCY)],
                 rounds=5, runs=3, warmup=1, time_target=("ratio", 1.25)),
        Workload("fanout_h2", f"for_each over {FANOUT_ITEMS} items over HTTPS (HTTP/2)",
                 run_ + [str(chains["fanout_h2"])],
                 [F, "fanout", https["h2"], "/list.json", str(FANOUT_CONCURRENCY)],
                 rounds=5, runs=3, warmup=1, time_target=("ratio", 1.25)),
        Workload("big", "100 MB JSON body into memory (printed)",
                 run_ + [str(chains["big"])], [F, "get", f"{base}/big.json"],
                 rounds=3, runs=2, warmup=1, rss_target=("ratio", 1.2)),
        Workload("save", "100 MB body with save_to",
                 run_ + [str(chains["save"])], [F, "save", f"{base}/big.json", str(big_out)],
                 rounds=3, runs=3, warmup=1, rss_target=("mib", 20)),
    ] + ([] if upload is None else [
        Workload("upload", f"{UPLOAD_BYTES >> 30} GiB file uploaded as multipart (streamed)",
                 run_ + [str(chains["upload"])],
                 [F, "upload", f"{upload[0]}/upload", str(upload[1])],
                 rounds=3, runs=2, warmup=1, rss_target=("mib", 20)),
    ])


def check_outputs(w: Workload) -> None:
    """Both programs must print the same bytes: proof they did the same work."""
    a = subprocess.run(w.pytopus, capture_output=True)
    b = subprocess.run(w.floor, capture_output=True)
    if a.returncode or b.returncode:
        sys.exit(f"bench: {w.name} failed:\n pytopus {a.returncode}: {a.stderr.decode()[-2000:]}"
                 f"\n floor {b.returncode}: {b.stderr.decode()[-2000:]}")
    if w.compare_stdout and a.stdout != b.stdout:
        sys.exit(f"bench: {w.name}: pytopus and the floor printed different results "
                 f"({len(a.stdout)} vs {len(b.stdout)} bytes)")


def hyperfine(cmds: list[list[str]], runs: int, warmup: int, out: Path) -> list[dict]:
    args = ["hyperfine", "-N", "--style", "none", "--runs", str(runs),
            "--warmup", str(warmup), "--export-json", str(out)]
    args += [" ".join(c) for c in cmds]
    res = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode:
        sys.exit(f"bench: hyperfine failed:\n{res.stderr[-3000:]}")
    data = json.loads(out.read_text())
    return data["results"]


def peak_rss_kib(cmd: list[str]) -> int:
    res = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    if res.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed: {res.stderr[-2000:]}")
    for line in res.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError("no RSS in /usr/bin/time output")


def measure(w: Workload, quick: bool, rounds_override: int | None, scratch: Path) -> None:
    rounds = rounds_override or (2 if quick else w.rounds)
    runs = max(1, w.runs // 2) if quick else w.runs
    names = ["pytopus", "floor"] + (["floor_mt"] if w.floor_mt else [])
    cmds = {"pytopus": w.pytopus, "floor": w.floor, "floor_mt": w.floor_mt}
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    paired: list[float] = []
    paired_cpu: list[float] = []
    paired_mt: list[float] = []
    for r in range(rounds):
        # Alternate which program goes first, so drift hits both alike.
        order = names if r % 2 == 0 else list(reversed(names))
        got = hyperfine([cmds[n] for n in order], runs, w.warmup,
                        scratch / f"{w.name}-{r}.json")
        per = {n: r["times"] for n, r in zip(order, got)}
        # hyperfine gives the mean user and system time of the round's runs.
        per_cpu = {n: r["user"] + r["system"] for n, r in zip(order, got)}
        for n in names:
            times[n] += per[n]
            cpu[n].append(per_cpu[n])
        paired.append(statistics.median(per["pytopus"]) / statistics.median(per["floor"]))
        paired_cpu.append(per_cpu["pytopus"] / max(per_cpu["floor"], 1e-9))
        if w.floor_mt:
            paired_mt.append(statistics.median(per["pytopus"]) / statistics.median(per["floor_mt"]))
        log(f"  {w.name} round {r + 1}/{rounds}: pytopus {statistics.median(per['pytopus']) * 1e3:.1f} ms,"
            f" floor {statistics.median(per['floor']) * 1e3:.1f} ms")
    res = {n: {"median_ms": statistics.median(t) * 1e3, "min_ms": min(t) * 1e3,
               "max_ms": max(t) * 1e3, "n": len(t),
               "cpu_ms": statistics.median(cpu[n]) * 1e3} for n, t in times.items()}
    res["ratio"] = statistics.median(paired)
    res["cpu_ratio"] = statistics.median(paired_cpu)
    res["ratio_rounds"] = paired
    if paired_mt:
        res["ratio_mt"] = statistics.median(paired_mt)
    if w.rss:
        k = 2 if quick else 3
        res["rss_pytopus_kib"] = max(peak_rss_kib(w.pytopus) for _ in range(k))
        res["rss_floor_kib"] = max(peak_rss_kib(w.floor) for _ in range(k))
    w.results = res


# ---------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def fmt_ms(r: dict) -> str:
    def f(x):
        return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"
    return f"{f(r['median_ms'])} ({f(r['min_ms'])}–{f(r['max_ms'])})"


def report(ws: list[Workload]) -> list[str]:
    lines = []
    lines.append("Time: median (min–max) ms over all runs; ratio = median over rounds of "
                 "pytopus/floor medians of that round")
    lines.append("cpu = user+system ms per run (median over rounds); cpu× = paired pytopus/floor CPU ratio")
    hdr = (f"{'workload':<11} {'pytopus ms':<23} {'floor ms':<23} {'floor --mt ms':<21} "
           f"{'ratio':>5} {'r/mt':>5} {'cpu py':>7} {'cpu fl':>7} {'cpu×':>5}  target")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    by = {w.name: w for w in ws}
    for w in ws:
        r = w.results
        if not r:
            continue
        mt = fmt_ms(r["floor_mt"]) if "floor_mt" in r else "-"
        rmt = f"{r['ratio_mt']:.2f}" if "ratio_mt" in r else "-"
        target = ""
        if w.time_target:
            kind, v = w.time_target
            if kind == "ratio":
                target = f"≤{v}× {verdict(r['ratio'] <= v)}"
            else:
                target = f"≤{v:g} ms {verdict(r['pytopus']['median_ms'] <= v)}"
        lines.append(f"{w.name:<11} {fmt_ms(r['pytopus']):<23} {fmt_ms(r['floor']):<23} {mt:<21} "
                     f"{r['ratio']:>5.2f} {rmt:>5} {r['pytopus']['cpu_ms']:>7.1f} "
                     f"{r['floor']['cpu_ms']:>7.1f} {r['cpu_ratio']:>5.2f}  {target}")
    if "seq1000" in by and "seq10000" in by and by["seq1000"].results and by["seq10000"].results:
        a, b = by["seq1000"].results, by["seq10000"].results
        scale = b["pytopus"]["median_ms"] / a["pytopus"]["median_ms"]
        fscale = b["floor"]["median_ms"] / a["floor"]["median_ms"]
        lines.append(f"{'10k/1k':<11} pytopus {scale:.2f}× (floor {fscale:.2f}×)"
                     f"{'':<73} ≤10.5× {verdict(scale <= 10.5)}")
    lines.append("")
    lines.append("Peak RSS (max of several runs, /usr/bin/time -v)")
    hdr = f"{'workload':<11} {'pytopus MiB':>12} {'floor MiB':>10} {'ratio':>6}  target"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for w in ws:
        r = w.results
        if not r or "rss_pytopus_kib" not in r:
            continue
        p, f = r["rss_pytopus_kib"] / 1024, r["rss_floor_kib"] / 1024
        target = ""
        if w.rss_target:
            kind, v = w.rss_target
            target = (f"≤{v}× floor {verdict(p / f <= v)}" if kind == "ratio"
                      else f"≤{v:g} MiB {verdict(p <= v)}")
        lines.append(f"{w.name:<11} {p:>12.1f} {f:>10.1f} {p / f:>6.2f}  {target}")
    return lines


def serve(www: Path) -> None:
    nginx, ports = start_nginx(BENCH_DIR, www)
    base = f"http://127.0.0.1:{ports['http']}"
    (BENCH_DIR / "out").mkdir(exist_ok=True)
    chains = write_chains(BENCH_DIR / "chains", base, BENCH_DIR / "out" / "big.json")
    print(f"serving {www} on {base}; chains: {' '.join(str(p) for p in chains.values())}",
          flush=True)
    try:
        nginx.wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop_nginx(nginx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 rounds, half the runs")
    ap.add_argument("--only", help="comma-separated workloads (see --list)")
    ap.add_argument("--rounds", type=int, help="rounds of alternation per workload")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    ap.add_argument("--serve", action="store_true",
                    help="only start the server and write the chains (for profiling); Ctrl-C stops")
    args = ap.parse_args()
    # Stop nginx on Ctrl-C and on kill, also when started in the background
    # (where SIGINT may come in ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    names = ["version", "one", "validate50", "seq1000", "seq10000", "fanout", "one_h2",
             "seq1000_h1", "seq1000_h2", "fanout_h1", "fanout_h2", "big", "save", "upload"]
    if args.list:
        print("\n".join(names))
        return
    only = args.only.split(",") if args.only else names
    unknown = set(only) - set(names)
    if unknown:
        sys.exit(f"bench: unknown workload(s) {', '.join(sorted(unknown))}; one of {', '.join(names)}")

    ensure_tools()
    # pytopus records every run in its history (on by default, so measured);
    # a fresh database per bench run keeps the user's own history, and its
    # size, out of the figures.
    history = BENCH_DIR / "history"
    shutil.rmtree(history, ignore_errors=True)
    os.environ["PYTOPUS_HISTORY_DIR"] = str(history)
    load_before = os.getloadavg()[0]
    www = BENCH_DIR / "www"
    generate_data(www)
    if args.serve:
        serve(www)
        return
    pytopus, built_from = build_pytopus()
    floor = build_floor()
    nginx, ports = start_nginx(BENCH_DIR, www)
    sink = start_upload_sink()
    try:
        base = f"http://127.0.0.1:{ports['http']}"
        https = {p: f"https://127.0.0.1:{ports[p]}" for p in ("h1", "h2")}
        ca = BENCH_DIR / "tls" / "ca.pem"
        os.environ["FLOOR_CA"] = str(ca)
        big_out = BENCH_DIR / "out" / "big.json"
        big_out.parent.mkdir(parents=True, exist_ok=True)
        upload = (sink.url, upload_file(BENCH_DIR / "out" / "upload.bin"))
        chains = write_chains(BENCH_DIR / "chains", base, big_out, upload)
        chains.update(write_https_chains(BENCH_DIR / "chains", https, ca))
        ws = [w for w in workloads(pytopus, floor, chains, base, big_out, https, upload)
              if w.name in only]
        scratch = BENCH_DIR / "hyperfine"
        scratch.mkdir(exist_ok=True)
        version = subprocess.run([str(pytopus), "--version"], capture_output=True,
                                 text=True).stdout.strip()
        log(f"{version} from {built_from}; nginx on {base}")
        for w in ws:
            log(f"{w.name}: {w.what}")
            check_outputs(w)
            measure(w, args.quick, args.rounds, scratch)
    finally:
        stop_nginx(nginx)
        sink.shutdown()

    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = [f"pytopus bench {stamp} — {version}, {built_from}",
            f"{platform.node()}: {os.cpu_count()} cores, {platform.release()}; "
            f"server nginx (1 worker) on 127.0.0.1; {'quick' if args.quick else 'full'} run; "
            f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end", ""]
    if max(load_before, os.getloadavg()[0]) > 1.5:
        head.insert(2, "WARNING: the machine was busy with other work; absolute times are "
                       "inflated, trust the paired ratios most")
    lines = head + report(ws)
    print("\n".join(lines))
    out = BENCH_DIR / f"results-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"when": stamp, "pytopus": version, "built_from": built_from,
                               "workloads": {w.name: w.results for w in ws}}, indent=2))
    log(f"raw figures: {out}")


if __name__ == "__main__":
    main()
