"""How many CPUs this process may use: its affinity mask, capped by its cgroups' CPU quotas.

What ``extract.workers: 0`` starts, and how many threads evaluate's forest builds with.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup"),
                   proc_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """How many CPUs this process may use: what ``extract.workers: 0`` starts.

    Not the machine's count (``os.cpu_count()``): the process's affinity mask (``taskset``,
    a batch scheduler's CPU set), capped by the CPU quota of its cgroups (a container or a CI
    job given 2 of a 64-core host's CPUs), rounded down, at least 1.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root, proc_cgroup)
    if quota is not None:
        n = min(n, math.floor(quota))
    return max(1, n)


def cgroup_cpu_quota(root: Path, proc_cgroup: Path) -> float | None:
    """The tightest CPU quota (in CPUs) over this process's cgroups and their parents, if any.

    cgroup v2: ``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``); v1:
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1: none). Unreadable files mean no limit.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        rel = Path(path.lstrip("/"))
        if hierarchy == "0" and not controllers:  # v2, one unified tree
            files = [(root / p / "cpu.max", None) for p in (rel, *rel.parents)]
        elif "cpu" in controllers.split(","):  # v1, a tree per controller
            trees = [root / name for name in ("cpu,cpuacct", "cpu")]
            files = [(t / p / "cpu.cfs_quota_us", t / p / "cpu.cfs_period_us")
                     for t in trees for p in (rel, *rel.parents)]
        else:
            continue
        for quota_file, period_file in files:
            try:
                if period_file is None:
                    quota, period = quota_file.read_text().split()
                else:
                    quota, period = quota_file.read_text(), period_file.read_text()
                if quota.strip() not in ("max", "-1") and float(period) > 0:
                    quotas.append(float(quota) / float(period))
            except (OSError, ValueError):
                continue
    return min(quotas) if quotas else None
