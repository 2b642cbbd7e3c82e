"""The machine's resources, checked before large work: one-line errors instead of a MemoryError.

Every stage that allocates in proportion to its inputs (scatterer sampling, simulation,
back-projection, dataset workers) estimates its bytes first (the estimate lives next to the
allocation) and calls `check_memory`, which compares them with the memory available now.
"""

from __future__ import annotations

import os
from pathlib import Path

GIB = 1 << 30
#: Environment variable that caps the memory radarface plans for (bytes; tests, shared machines).
MEMORY_LIMIT_ENV = "RADARFACE_MEMORY_LIMIT_BYTES"


class ResourceError(ValueError):
    """Work that would need more memory than the machine has (a one-line, user-facing error)."""


def _cgroup_limit_bytes() -> int | None:
    """The cgroup (v2 or v1) memory limit of this process's container, if any."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def available_memory_bytes() -> int:
    """Memory this process can allocate now: MemAvailable (Linux), else free physical pages,
    capped by the container's limit and by $RADARFACE_MEMORY_LIMIT_BYTES."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 1 << 62  # unknown (not Linux or BSD): do not refuse
    limits = [available, _cgroup_limit_bytes(), os.environ.get(MEMORY_LIMIT_ENV)]
    return min(int(v) for v in limits if v is not None)


def format_bytes(n_bytes: float) -> str:
    """1.5e9 -> '1.4 GiB' (binary units, three significant digits)."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{int(n_bytes)} B"


def check_memory(need_bytes: float, what: str, hint: str) -> None:
    """Raise a one-line ResourceError when `what` needs more than the available memory."""
    available = available_memory_bytes()
    if need_bytes > available:
        raise ResourceError(
            f"{what} needs about {format_bytes(need_bytes)}, more than the "
            f"{format_bytes(available)} available; {hint}"
        )
