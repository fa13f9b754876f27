"""What the side-by-side benchmarks share: timing a command with its peak memory, and running sides
alternately so a noisy machine disturbs each side alike."""

import os
import statistics
import subprocess
import time


def measure(cmd, env=None):
    """Runs cmd, returns (seconds, peak RSS in MiB); raises on failure."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024.0


def alternate(sides, runs, prepare, check):
    """Runs each (name, cmd, out) side `runs` times, alternating; `prepare(out)` before each run, `check(name,
    out)` after. Returns {name: (median seconds, median MiB, all seconds)}."""
    times = {name: [] for name, _, _ in sides}
    rss = {name: [] for name, _, _ in sides}
    for _ in range(runs):
        for name, cmd, out in sides:
            prepare(out)
            t, m = measure(cmd)
            times[name].append(t)
            rss[name].append(m)
            check(name, out)
    return {k: (statistics.median(times[k]), statistics.median(rss[k]), times[k]) for k in times}
