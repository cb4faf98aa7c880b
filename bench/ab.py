#!/usr/bin/env python3
"""Two pytopus binaries, alternated run by run, with the floor in between.

Usage: python3 bench/ab.py OLD_BINARY NEW_BINARY [WORKLOAD ...]

Workloads: version, validate50, one, seq1000, fanout (all by default).

Needs the chains and the server of `python3 bench/run.py --serve` (run it
in another terminal first; it prints where it serves). On a machine whose
speed drifts from minute to minute, running the two binaries one after the
other, many times, compares them better than two separate bench runs: the
paired median of new ÷ old is the figure to trust. Python's process start
adds about 1 ms to every time printed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH_DIR = Path(os.environ.get("BENCH_DIR", "/tmp/pytopus-bench"))
CHAINS = BENCH_DIR / "chains"
FLOOR = HERE / "floor" / "target" / "release" / "pytopus-bench-floor"


def base_url() -> str:
    text = (CHAINS / "seq1000.yaml").read_text()
    return text.split('base: "', 1)[1].split('"', 1)[0]


def workloads(base: str) -> dict[str, tuple[list[str], list[str], int]]:
    c, f = str(CHAINS), str(FLOOR)
    return {
        "version": (["--version"], [f, "--version"], 40),
        "validate50": (["validate", f"{c}/validate50.yaml"], [f, "--version"], 40),
        "one": (["run", "-q", f"{c}/one.yaml"], [f, "get", f"{base}/s/0.json"], 30),
        "seq1000": (["run", "-q", f"{c}/seq1000.yaml"],
                    [f, "seq", base, "/s/0.json", "1000"], 10),
        "fanout": (["run", "-q", f"{c}/fanout.yaml"],
                   [f, "fanout", base, "/list.json", "64"], 8),
    }


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"ab: `{' '.join(cmd)}` exited {done.returncode}")
    return took


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    old, new, *names = sys.argv[1:]
    if not (CHAINS / "seq1000.yaml").exists() or not FLOOR.exists():
        sys.exit("ab: run `python3 bench/run.py --serve` first (chains, server, floor)")
    all_ = workloads(base_url())
    for n in names:
        if n not in all_:
            sys.exit(f"ab: unknown workload `{n}` (known: {', '.join(all_)})")
    # A history directory for each binary: two versions may keep their
    # databases differently (journal mode, format), and switching one
    # database back and forth would be timed too.
    env_of = {
        b: dict(os.environ, PYTOPUS_HISTORY_DIR=str(BENCH_DIR / f"ab-history-{b}"))
        for b in ("old", "new")
    }
    for b in env_of:
        shutil.rmtree(env_of[b]["PYTOPUS_HISTORY_DIR"], ignore_errors=True)
    env = env_of["new"]
    for name in names or list(all_):
        args, floor, runs = all_[name]
        times: dict[str, list[float]] = {"old": [], "new": [], "floor": []}
        for _ in range(3):  # warm the page cache
            timed([old] + args, env_of["old"])
            timed([new] + args, env_of["new"])
        for _ in range(runs):
            times["old"].append(timed([old] + args, env_of["old"]))
            times["new"].append(timed([new] + args, env_of["new"]))
            times["floor"].append(timed(floor, env))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        paired = statistics.median(n / o for n, o in zip(times["new"], times["old"]))
        print(f"{name:<10}  old {med['old']:8.2f} ms  new {med['new']:8.2f} ms  "
              f"floor {med['floor']:8.2f} ms  new/old {paired:.3f}  "
              f"old/floor {med['old'] / med['floor']:.2f}  new/floor {med['new'] / med['floor']:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
