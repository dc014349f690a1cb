"""Peak resident memory of this process, from Linux's /proc (VmHWM), resettable."""

from __future__ import annotations

from pathlib import Path


def peak_rss_reset() -> None:
    """Start the high-water mark again from the current resident size."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    """The highest resident size since start-up or the last reset, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
