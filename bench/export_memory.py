#!/usr/bin/env python3
"""Export memory: does an export's memory stay flat as the dataset grows? Exports the same kind of data at
two sizes (default 1 M and 10 M points) to each format and samples the process every 50 ms for its
anonymous memory (heap: what the program holds) and its file-backed resident memory (the store's pages that
SQLite reads through mmap, which the kernel may drop at any time and which count in the usual peak RSS).

Usage: python3 bench/export_memory.py [--small 1000000] [--large 10000000] [--formats geojsonseq,csv,...]
Needs a release build (cargo build --release). Writes bench/RESULTS.md between markers.
"""

import argparse
import datetime
import os
import platform
import subprocess
import time
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out" / "memory"
BEGIN, END = "<!-- export-memory:begin -->", "<!-- export-memory:end -->"
FORMATS = ["geojsonseq", "csv", "kml", "geoparquet", "gpkg", "fgb"]


def status_kib(pid):
    """(RssAnon, RssFile) of a live process in KiB, or None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            values[key] = int(rest.split()[0])
    return values.get("RssAnon", 0), values.get("RssFile", 0)


def sampled(cmd):
    """Runs cmd; returns (seconds, peak anonymous MiB, peak file-backed MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    anon = file_backed = 0
    while proc.poll() is None:
        now = status_kib(proc.pid)
        if now:
            anon, file_backed = max(anon, now[0]), max(file_backed, now[1])
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode(errors='replace')}")
    return elapsed, anon / 1024, file_backed / 1024


def store_of(points):
    store = OUT / f"store_{points}.gpkg"
    if store.exists():
        return store
    OUT.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    source = DATA / f"points_{points}.geojsonl"
    if not source.exists():
        subprocess.run([str(BIN), "generate", "--points", str(points), "--output", str(source), "--quiet"], check=True)
    subprocess.run([str(BIN), "--store", str(store), "import", str(source), "--dataset", "points", "--quiet"], check=True)
    return store


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    if not BIN.exists():
        raise SystemExit("build first: cargo build --release")
    formats = args.formats.split(",")
    rows = []
    for points in (args.small, args.large):
        store = store_of(points)
        for name in formats:
            out = OUT / f"export_{points}.{name}"
            out.unlink(missing_ok=True)
            seconds, anon, file_backed = sampled(
                [str(BIN), "--store", str(store), "export", "points", "--format", name, "--output", str(out), "--quiet"])
            size = out.stat().st_size / 1e9
            out.unlink(missing_ok=True)
            rows.append((name, points, seconds, anon, file_backed, size))
            print(name, points, round(seconds, 1), round(anon), round(file_backed), flush=True)
    ours_version = subprocess.run([str(BIN), "--version"], capture_output=True, text=True).stdout.strip()
    lines = [BEGIN, "## Export memory as the dataset grows", ""]
    lines.append(f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores; {ours_version}.")
    lines.append(f"Command: `python3 bench/export_memory.py --small {args.small} --large {args.large} --formats {args.formats}`")
    lines.append("(each export sampled every 50 ms: anonymous memory is what the program holds; file-backed is the "
                 "store's pages read through SQLite's mmap, which the kernel reclaims under pressure.)")
    lines.append("")
    lines.append("| format | features | seconds | features/s | file GB | peak anonymous MiB | peak file-backed MiB |")
    lines.append("|---|---|---|---|---|---|---|")
    for name, points, seconds, anon, file_backed, size in rows:
        lines.append(f"| {name} | {points:,} | {seconds:.1f} | {points / seconds:,.0f} | {size:.2f} | {anon:.0f} | {file_backed:.0f} |")
    lines.append(END)
    block = "\n".join(lines)
    write_block(BEGIN, END, block)
    print(block)


if __name__ == "__main__":
    main()
