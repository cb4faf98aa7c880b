#!/usr/bin/env python3
"""Writes bench/symbol-order.txt: the functions pytopus runs, for the linker.

Usage: PYTOPUS_BIN=path/to/release/pytopus python3 bench/order.py
       PYTOPUS_LINK_ORDER=bench/symbol-order.txt cargo build --release --locked

An opt-in packaging step, like bench/pgo.py: the list is not kept in the
repository (a stale one silently costs memory), and release builds use it
only when PYTOPUS_LINK_ORDER names it.

Runs the release binary under valgrind's callgrind on the bench's workloads
(start-up, `validate`, one request, a 1000-step chain with and without its
progress lines, the 10,000-item fan-out, 1000 steps over HTTPS/1.1 and
HTTP/2), against the bench's nginx, and
lists every function of the binary that ran, the busiest first. build.rs
hands the file named by PYTOPUS_LINK_ORDER to the linker (`--symbol-ordering-file`), which places those
functions side by side at the start of `.text`: the code a run needs then
fills a few megabytes instead of being spread over all sixteen, so a run
touches (and keeps resident) fewer pages. See bench/README.md, "Code layout".

The names are mangled and carry hashes that change with the Rust toolchain
and the dependencies' versions; names the linker does not find are skipped
silently, so a stale file costs the benefit: make it from a binary of the
very tree you then build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the harness: data, chains, nginx)

OUT = bench.HERE / "symbol-order.txt"


def profile(binary: Path, args: list[str], out: Path, env: dict) -> None:
    cmd = ["valgrind", "--tool=callgrind", "--demangle=no",
           f"--callgrind-out-file={out}", str(binary)] + args
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    if res.returncode != 0:
        sys.exit(f"order: `pytopus {' '.join(args)}` failed under callgrind:\n{res.stderr[-2000:]}")


def self_costs(cg: Path, costs: dict[str, int]) -> None:
    """Adds each function's own instruction count from a callgrind file."""
    names: dict[str, str] = {}
    current = None
    in_call = False
    for line in cg.read_text(errors="replace").splitlines():
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, ident, name = m.groups()
            if name:
                names[ident] = name.strip()
            if kind == "fn":
                current = names.get(ident)
                if current is not None:
                    costs.setdefault(current, 0)
            else:
                costs.setdefault(names.get(ident, ""), 0)
            continue
        if line.startswith("calls="):
            in_call = True  # the next cost line is the call's, not the function's own
            continue
        if line and (line[0].isdigit() or line[0] in "+-*"):
            parts = line.split()
            if in_call:
                in_call = False
            elif current and len(parts) >= 2 and parts[1].isdigit():
                costs[current] += int(parts[1])


def defined_functions(binary: Path) -> set[str]:
    out = subprocess.run(["nm", "--defined-only", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return {p[2] for p in (l.split() for l in out.splitlines())
            if len(p) == 3 and p[1] in "tT"}


def main() -> None:
    binary = os.environ.get("PYTOPUS_BIN")
    if not binary:
        sys.exit("order: set PYTOPUS_BIN to a release build of pytopus")
    binary = Path(binary).resolve()
    if not shutil.which("valgrind"):
        sys.exit("order: valgrind is needed (apt-get install valgrind)")
    bench.ensure_tools()
    costs: dict[str, int] = defaultdict(int)
    with bench.training("pytopus-order-") as (runs, env, work):
        for i, args in enumerate(runs):
            bench.log(f"callgrind: pytopus {' '.join(args[:2])} …")
            cg = work / f"{i}.cg"
            profile(binary, args, cg, env)
            self_costs(cg, costs)
    ours = defined_functions(binary)
    ordered = sorted((n for n in costs if n in ours), key=lambda n: (-costs[n], n))
    OUT.write_text("\n".join(ordered) + "\n")
    bench.log(f"wrote {OUT} ({len(ordered)} functions)")


if __name__ == "__main__":
    main()
