"""How many threads torch's intra-op pool gets (`threads: auto | N`).

The networks are small, so one operation is a few thousand to a few million flops: a second
thread helps a little on an idle machine, and a thread that waits for a core another process
holds stalls every parallel region, which makes a run several times slower (README, "Threads").
`auto` therefore takes the cores this process may use (CPU affinity and the cgroup quota),
divides them among the jobs of a local sweep that run at the same time, and, for a run alone,
leaves out the cores other processes kept busy while it started (sampled from /proc/stat over
0.2 s); never fewer than one. OMP_NUM_THREADS, when set, caps the choice. Whether a second
thread pays off at all depends on the machine (on one 2-core VM a warm-up step of finite_well with
three states took 17 ms at one thread and 65 ms at two, where another 2-core machine ran the same
run 1.4x faster at two), so `auto`, when it would use more than one thread, times the first
training steps at that count and at one thread (`ThreadTrial`) and keeps the faster.

Once chosen (after the trial, where there is one) the count stays for the rest of the run: results
depend on it in the last bits (reductions are split among the threads), so a run resumed from a
checkpoint uses the count its checkpoint records.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from pinn.errors import ConfigError

log = logging.getLogger("pinn")

JOBS_VARIABLE = "PINN_CONCURRENT_JOBS"  # set by the sweep callback for the jobs it launches
SAMPLE_SECONDS = 0.2


@dataclass(frozen=True)
class ThreadChoice:
    used: int
    setting: str | int
    usable_cores: int
    concurrent_jobs: int
    busy_cores_elsewhere: float | None
    omp_num_threads: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_setting(value: Any) -> str | int:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1024:
        raise ConfigError(f"threads={value!r} must be auto or a whole number between 1 and 1024")
    return value


def usable_cores() -> int:
    """CPUs in this process's affinity mask, bounded by a cgroup CPU quota when one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def _cgroup_quota() -> float | None:
    """CPUs granted by the cgroup (v2 cpu.max, or v1 cfs quota / period), None when unlimited."""
    try:
        text = open("/sys/fs/cgroup/cpu.max").read().split()
        if text and text[0] != "max":
            return float(text[0]) / float(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
        period = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _cpu_times(cpus: set[int]) -> tuple[float, float] | None:
    """(busy, total) jiffies summed over the given CPUs, from /proc/stat."""
    try:
        lines = open("/proc/stat").read().splitlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        values = [float(v) for v in fields[:8]]
        idle = values[3] + values[4]  # idle + iowait
        total += sum(values)
        busy += sum(values) - idle
    return (busy, total) if total > 0 else None


def _own_jiffies() -> float | None:
    try:
        fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
        return float(fields[11]) + float(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None


def busy_cores_elsewhere(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores of this process's CPUs that other processes kept busy over a short sample, or None
    where /proc cannot tell (not Linux)."""
    try:
        cpus = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    first, own_first = _cpu_times(cpus), _own_jiffies()
    if first is None or own_first is None:
        return None
    time.sleep(seconds)
    second, own_second = _cpu_times(cpus), _own_jiffies()
    if second is None or own_second is None or second[1] <= first[1]:
        return None
    per_cpu_total = (second[1] - first[1]) / len(cpus)
    others = (second[0] - first[0]) - (own_second - own_first)
    return max(0.0, others / per_cpu_total)


def concurrent_jobs() -> int:
    try:
        return max(1, int(os.environ.get(JOBS_VARIABLE, "1")))
    except ValueError:
        return 1


def _omp_cap() -> int | None:
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value >= 1 else None


def choose(setting: str | int) -> ThreadChoice:
    """The thread count for a run with this setting (see the module docstring)."""
    cores, jobs, cap = usable_cores(), concurrent_jobs(), _omp_cap()
    if setting != "auto":
        return ThreadChoice(int(setting), setting, cores, jobs, None, cap)
    threads = max(1, cores // jobs)
    busy = None
    if jobs == 1 and threads > 1:
        busy = busy_cores_elsewhere()
        if busy is not None:
            threads = max(1, min(threads, cores - round(busy)))
    if cap is not None:
        threads = min(threads, cap)
    return ThreadChoice(threads, setting, cores, jobs, busy, cap)


class ThreadTrial:
    """Times `steps` training steps at each candidate count (after `skip` untimed ones, which pay
    for first calls and the switch) and leaves torch at the count whose median step was shortest.
    `after_step(seconds)` is called after every step until `done`."""

    def __init__(self, counts: list[int], steps: int = 8, skip: int = 2):
        self.counts, self.steps, self.skip = list(counts), steps, skip
        self.timings: dict[int, list[float]] = {c: [] for c in self.counts}
        self.chosen: int | None = None
        self._index, self._seen = 0, 0
        torch.set_num_threads(self.counts[0])

    @property
    def done(self) -> bool:
        return self.chosen is not None

    def after_step(self, seconds: float) -> None:
        if self.done:
            return
        self._seen += 1
        if self._seen <= self.skip:
            return
        count = self.counts[self._index]
        self.timings[count].append(seconds)
        if len(self.timings[count]) < self.steps:
            return
        self._index, self._seen = self._index + 1, 0
        if self._index < len(self.counts):
            torch.set_num_threads(self.counts[self._index])
            return
        self.chosen = min(self.counts, key=lambda c: statistics.median(self.timings[c]))
        torch.set_num_threads(self.chosen)
        log.info("threads: %d, the faster per training step (median ms per step at each count: %s)",
                 self.chosen, self.as_dict()["median_step_ms"])

    def as_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen,
                "median_step_ms": {str(c): round(1e3 * statistics.median(t), 3) for c, t in self.timings.items() if t}}


class using_threads:
    """Context manager: torch's intra-op pool at `count` threads inside, as it was afterwards."""

    def __init__(self, count: int):
        self.count = count

    def __enter__(self):
        self.previous = torch.get_num_threads()
        torch.set_num_threads(self.count)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)
        return False
