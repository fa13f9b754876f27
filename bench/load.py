#!/usr/bin/env python3
"""Bounded load test: 200 concurrent clients from loopback for 60 s against the demo console while an import
of 200,000 points runs inside it. wrk drives 180 connections over a mix of vector tiles (/tiles/{datasets}
and the OGC tile route, zoom 1-7 over the whole world) and OGC API items pages (bbox + limit, sometimes a
CQL2 filter); 20 more clients hold /events and /alerts/stream (SSE) open the whole time and count what they
receive. The server's resident memory is sampled every 0.5 s.

Pass criteria (reported, and the script exits non-zero when broken): zero 5xx, zero socket errors, the
import finishes while loaded, every SSE client still connected at the end, RSS below 2 GiB.

This is a robustness test of one console, not a comparison: no peer serves GeoPackage tiles, items and SSE
together (Martin serves tiles only, from PostGIS/MBTiles/PMTiles; the tile comparison is in
bench/serve_vs_peers.py).

Usage: python3 bench/load.py [--seconds 60] [--connections 180] [--sse 20]
Needs a release build (cargo build --release) and wrk (Debian package wrk). Results go to bench/RESULTS.md.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
BEGIN, END = "<!-- load-test:begin -->", "<!-- load-test:end -->"

LUA = r"""
local paths = {}
for line in io.lines(os.getenv("GC_PATHS")) do paths[#paths + 1] = line end
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  fivexx = 0
  fourxx = 0
  math.randomseed(id * 7919 + 17)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
function response(status, headers, body)
  if status >= 500 then fivexx = fivexx + 1 elseif status >= 400 then fourxx = fourxx + 1 end
end
function done(summary, latency, requests)
  local f, g = 0, 0
  for _, t in ipairs(threads) do f = f + t:get("fivexx"); g = g + t:get("fourxx") end
  io.write(string.format("GC_RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests, f, g,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, summary.duration))
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def tile_paths(rng, datasets):
    paths = []
    for _ in range(3000):
        z = rng.randint(1, 7)
        x, y = rng.randrange(2**z), rng.randrange(2**z)
        if rng.random() < 0.7:
            shown = ",".join(rng.sample(datasets, k=min(len(datasets), rng.randint(1, 3))))
            paths.append(f"/tiles/{shown}/{z}/{x}/{y}")
        else:
            paths.append(f"/collections/{rng.choice(datasets)}/tiles/WebMercatorQuad/{z}/{y}/{x}")
    return paths


def item_paths(rng, datasets):
    paths = []
    for _ in range(1500):
        lon, lat = rng.uniform(-170, 150), rng.uniform(-60, 60)
        w = rng.choice([1, 5, 20])
        path = f"/collections/{rng.choice(datasets)}/items?limit={rng.choice([10, 100, 500])}&bbox={lon:.2f},{lat:.2f},{lon + w:.2f},{min(lat + w, 85):.2f}"
        if rng.random() < 0.2:
            path = f"/collections/earthquakes/items?limit=100&filter=mag%20%3E%20{rng.choice([2, 3, 4])}"
        paths.append(path)
    return paths


class SseClient(threading.Thread):
    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.events = 0
        self.connected = False
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
            s.settimeout(1)
            buffer = b""
            while not self.stop.is_set():
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    self.error = "closed by the server"
                    self.connected = False
                    return
                buffer += chunk
                if b" 200 " in buffer[:20]:
                    self.connected = True
                self.events += chunk.count(b"\nevent:") + chunk.count(b"\ndata:") // 2
            s.close()
        except OSError as e:
            self.error = str(e)
            self.connected = False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=180)
    parser.add_argument("--sse", type=int, default=20)
    parser.add_argument("--import-points", type=int, default=200_000)
    args = parser.parse_args()
    if not BIN.exists():
        raise SystemExit("build first: cargo build --release")
    work = Path(tempfile.mkdtemp(prefix="geoconsole-load-"))
    store = work / "demo.gpkg"
    subprocess.run([str(BIN), "--quiet", "--store", str(store), "demo"], check=True)
    subprocess.run([str(BIN), "--quiet", "generate", "--points", str(args.import_points), "--output", str(work / "load.csv")], check=True)
    port = free_port()
    server = subprocess.Popen(
        [str(BIN), "--quiet", "--store", str(store), "serve", "--bind", f"127.0.0.1:{port}", "--rate-limit", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        datasets = [c["id"] for c in get_json(f"{base}/collections")["collections"]]
        rng = random.Random(42)
        paths = tile_paths(rng, datasets) + item_paths(rng, datasets)
        rng.shuffle(paths)
        (work / "paths.txt").write_text("\n".join(paths) + "\n")
        (work / "load.lua").write_text(LUA)
        rss_start = rss_kib(server.pid)

        sse = [SseClient(port, "/events" if i % 2 == 0 else "/alerts/stream") for i in range(args.sse)]
        for c in sse:
            c.start()
        samples = []
        sampling = threading.Event()

        def sample():
            while not sampling.is_set():
                samples.append(rss_kib(server.pid))
                time.sleep(0.5)

        threading.Thread(target=sample, daemon=True).start()
        wrk = subprocess.Popen(
            ["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s", "--timeout", "10s",
             "-s", str(work / "load.lua"), base],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "GC_PATHS": str(work / "paths.txt")})
        # The import starts once the load is on.
        time.sleep(3)
        body = (work / "load.csv").read_bytes()
        req = urllib.request.Request(f"{base}/imports?name=load.csv", data=body, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
        staged = json.load(urllib.request.urlopen(req, timeout=120))
        started_import = time.monotonic()
        req = urllib.request.Request(f"{base}/imports/{staged['id']}", data=json.dumps({"dataset": "load_points"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=30).read()
        import_state, import_seconds = "importing", None
        while time.monotonic() - started_import < args.seconds + 120:
            status = get_json(f"{base}/imports/{staged['id']}")
            if status["state"] not in ("importing", "staged"):
                import_state = status["state"]
                import_seconds = time.monotonic() - started_import
                break
            time.sleep(0.5)
        out, _ = wrk.communicate()
        sampling.set()
        for c in sse:
            c.stop.set()
        still = sum(1 for c in sse if c.connected and c.error is None)
        events = sum(c.events for c in sse)
        m = re.search(r"GC_RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
        if not m:
            raise SystemExit(f"wrk gave no result:\n{out}")
        requests, fivexx, fourxx, socket_errors, p50, p90, p99, pmax, duration_us = map(int, m.groups())
        rps = requests / (duration_us / 1e6)
        rss_peak = max(samples) if samples else 0
        rss_end = samples[-1] if samples else 0
    finally:
        server.terminate()
        server.wait(timeout=30)

    ok = fivexx == 0 and socket_errors == 0 and import_state == "imported" and still == len(sse) and rss_peak < 2 * 1024 * 1024
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}"
    block = f"""{BEGIN}
Produced by `python3 bench/load.py --seconds {args.seconds} --connections {args.connections} --sse {args.sse}` on {now} ({machine}); release build, demo store, rate limit off for the test (`--rate-limit 0`), wrk and the server on the same 2 cores.

| measure | value |
|---|---|
| clients | {args.connections} wrk connections (tiles 2/3, items 1/3, 20% of items with a CQL2 filter) + {len(sse)} SSE clients = {args.connections + len(sse)} |
| duration | {duration_us / 1e6:.1f} s |
| requests | {requests:,} ({rps:,.0f} per second) |
| latency p50 / p90 / p99 / max | {p50 / 1000:.1f} / {p90 / 1000:.1f} / {p99 / 1000:.1f} / {pmax / 1000:.1f} ms |
| 5xx | **{fivexx}** |
| 4xx | {fourxx} |
| socket errors (connect, read, write, timeout) | {socket_errors} |
| import during the load | {args.import_points:,} points: {import_state} in {import_seconds or 0:.1f} s |
| SSE clients connected at the end | {still} of {len(sse)} ({events:,} events received) |
| server RSS start / peak / end | {rss_start / 1024:.0f} / {rss_peak / 1024:.0f} / {rss_end / 1024:.0f} MiB |
| verdict | {"pass" if ok else "FAIL"} (zero 5xx, zero socket errors, import done, SSE held, RSS < 2 GiB) |
{END}"""
    write_block(BEGIN, END, block, heading="Load: 200 clients for 60 s while an import runs")
    print(block)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
