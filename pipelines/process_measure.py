"""Wall time and peak memory of one whole process, for the benchmarks that time commands as users run them.

The kernel's peak RSS of a child (`wait4`) counts the memory of the process it was forked from: a benchmark
of 46 MB that starts a 35 MB command reads 46 MB, whatever the command does. So the command runs under
GNU time (`/usr/bin/time`, Debian's `time`), a process of a megabyte that reports its own child's peak.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def run_measured(cmd: list[str], one_core: bool = False) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of `cmd`, its output discarded; `one_core` pins it to one CPU (taskset).
    Raises RuntimeError when it fails, or when GNU time is missing (`apt-get install time`)."""
    if GNU_TIME is None:
        raise RuntimeError("GNU time (/usr/bin/time) is needed to measure a command's own peak memory")
    pin = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] if one_core and shutil.which("taskset") else []
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        done = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss.name, *pin, *cmd], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited with {done.returncode}")
        return wall, int(rss.read().split()[-1]) / 1024
