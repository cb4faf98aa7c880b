#!/usr/bin/env python3
"""Builds a profile-guided (PGO) release binary of pytopus from this tree.

Usage: python3 bench/pgo.py        # prints the binary's path last

1. Builds an instrumented release binary (`-Cprofile-generate`).
2. Runs it on the bench's workloads against the bench's nginx: start-up,
   `validate` of 50 steps, one request, the 1000-step chain with and without
   its progress lines, the 10,000-item fan-out (the runs bench/order.py
   profiles for the link order).
3. Merges the counts with the `llvm-profdata` of rustc's own LLVM (the
   profile format follows LLVM's version): `$LLVM_PROFDATA`, then
   `llvm-profdata-N` on the PATH, `/usr/lib/llvm-N/bin/llvm-profdata`,
   rustup's `llvm-tools` component; on Debian, `apt-get install llvm-N`
   when none is there.
4. Builds the release binary again with the profile (`-Cprofile-use`).

The builds go to `$BENCH_DIR/pgo-target/{generate,use}` (their flags differ
from a plain build's and from each other's, so each keeps its own compiled
dependencies); a cold pair of builds takes ~15 minutes on 2 cores. Time the result against the floor with
`PYTOPUS_BIN=<path> python3 bench/run.py --quick`, or against a plain build
with `python3 bench/ab.py PLAIN PGO`. See bench/README.md, session 11.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the harness: data, chains, nginx)

ROOT = bench.HERE.parent
TARGET = bench.BENCH_DIR / "pgo-target"
# RUSTFLAGS replaces `.cargo/config.toml`'s flags for the target, so its one
# flag (v0 symbol names, which the link order list relies on) is repeated.
BASE_FLAGS = "-Csymbol-mangling-version=v0"


def rustc_version() -> tuple[str, str]:
    """rustc's LLVM major version and its host triple, from one `rustc -vV`."""
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    llvm = re.search(r"^LLVM version: (\d+)\.", out, re.M)
    if not llvm:
        sys.exit("pgo: `rustc -vV` names no LLVM version")
    host = re.search(r"^host: (\S+)", out, re.M)
    return llvm.group(1), host.group(1) if host else ""


def tool_major(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"LLVM version (\d+)\.", out)
    return m.group(1) if m else None


def find_profdata(major: str, host: str) -> str:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True,
                             text=True, check=True).stdout.strip()
    candidates = [
        os.environ.get("LLVM_PROFDATA", ""),
        shutil.which(f"llvm-profdata-{major}") or "",
        f"/usr/lib/llvm-{major}/bin/llvm-profdata",
        str(Path(sysroot) / "lib" / "rustlib" / host / "bin" / "llvm-profdata"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and tool_major(c) == major:
            return c
    if shutil.which("apt-get"):
        bench.log(f"installing llvm-{major} (apt-get) for llvm-profdata")
        subprocess.run(["apt-get", "install", "-y", "-q", f"llvm-{major}"],
                       stdout=subprocess.DEVNULL)
        c = f"/usr/lib/llvm-{major}/bin/llvm-profdata"
        if Path(c).is_file() and tool_major(c) == major:
            return c
    sys.exit(f"pgo: no llvm-profdata of LLVM {major} (rustc's); set LLVM_PROFDATA, "
             f"install llvm-{major}, or `rustup component add llvm-tools`")


def cargo_build(flags: str, target: Path) -> Path:
    env = dict(os.environ, RUSTFLAGS=f"{BASE_FLAGS} {flags}", CARGO_TARGET_DIR=str(target))
    bench.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, env=env)
    return target / "release" / "pytopus"


def train(binary: Path) -> None:
    """The workloads bench/order.py profiles, each run once."""
    with bench.training("pytopus-pgo-") as (runs, env, _):
        for args in runs:
            bench.log(f"training: pytopus {' '.join(args[:2])} …")
            res = subprocess.run([str(binary)] + args, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
            if res.returncode != 0:
                sys.exit(f"pgo: `pytopus {' '.join(args)}` failed:\n{res.stderr[-2000:]}")


def main() -> None:
    bench.ensure_tools()
    profdata_tool = find_profdata(*rustc_version())
    raw = bench.BENCH_DIR / "pgo-data"
    # Counts left by another binary would be merged in (or refused): start empty.
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    bench.log("building pytopus --release, instrumented")
    instrumented = cargo_build(f"-Cprofile-generate={raw}", TARGET / "generate")
    train(instrumented)
    profraws = sorted(raw.glob("*.profraw"))
    if not profraws:
        sys.exit(f"pgo: the training runs wrote no profile into {raw}")
    merged = bench.BENCH_DIR / "pytopus.profdata"
    bench.run([profdata_tool, "merge", "-o", str(merged)] + [str(p) for p in profraws])
    # Cargo does not look inside the profile: named by its content, a new
    # profile changes the flags and so rebuilds what it shapes.
    digest = hashlib.sha256(merged.read_bytes()).hexdigest()[:16]
    profile = bench.BENCH_DIR / f"pytopus-{digest}.profdata"
    for old in bench.BENCH_DIR.glob("pytopus-*.profdata"):
        old.unlink()
    merged.replace(profile)
    bench.log(f"building pytopus --release with {profile}")
    print(cargo_build(f"-Cprofile-use={profile}", TARGET / "use"))


if __name__ == "__main__":
    main()
