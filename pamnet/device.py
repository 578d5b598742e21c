"""Device choice: `auto` is CUDA when present, else CPU."""

from __future__ import annotations

import os
import shutil

import torch

from pamnet.errors import ConfigError


def resolve(device: str | torch.device = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> torch.device; 'cuda' without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda was asked for, but no CUDA GPU is visible; use --device auto or cpu"
        )
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {device!r}: {exc}; use auto, cpu or cuda") from None


def describe(device: torch.device | str = "auto") -> str:
    """Human-readable name: the GPU's model, or 'CPU (n threads)'."""
    d = resolve(device)
    if d.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(d)}"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def free_cores() -> int:
    """CPU cores this process may use that other processes are not already busy on: the
    cores it is allowed (affinity) less the 1-minute load average, at least 1. Torch's
    default of one thread per core spins instead of working when other jobs hold cores
    (measured: a fine-tune fell from ~93 to ~5 molecules/s beside other processes)."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


_FIXED: list[bool] = [False]  # the user chose the thread count (--threads): keep it


def size_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads: `threads` when given (then kept: `ThreadGovernor` leaves
    it alone), else `free_cores()`; returns it."""
    _FIXED[0] = bool(threads)
    n = int(threads) if threads else free_cores()
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


def threads_fixed() -> bool:
    return _FIXED[0]


class ThreadGovernor:
    """Keeps torch's CPU threads at the cores other processes leave free while a long
    job runs: every `interval` s it measures, from /proc/stat and /proc/self/stat, how
    many cores the rest of the machine kept busy since the last look (instantaneous,
    unlike the load average, which lags a minute: two jobs started together would both
    take every core) and sets the threads to the cores left, at least 1. Call it often
    (each training step); it costs a time check between looks. Linux only (elsewhere a
    no-op)."""

    def __init__(self, interval: float = 5.0):
        import os

        self.interval = interval
        try:
            self.cores = len(os.sched_getaffinity(0))
        except AttributeError:
            self.cores = os.cpu_count() or 1
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()
        self._next = self._now() + interval
        self.history: list[tuple[float, int]] = []  # (others' busy cores, threads set)

    @classmethod
    def when_useful(cls, device: torch.device, world: int = 1) -> ThreadGovernor | None:
        """A governor for one CPU process whose threads the user did not choose."""
        return cls() if device.type == "cpu" and world == 1 and not threads_fixed() else None

    @staticmethod
    def _now() -> float:
        import time

        return time.monotonic()

    def _sample(self) -> tuple[float, float, float] | None:
        """(machine busy seconds, this process's CPU seconds, wall seconds), or None."""
        try:
            with open("/proc/stat") as f:
                cpu = [float(v) for v in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0.0)
        busy = sum(cpu[:8]) - idle
        mine = float(own[11]) + float(own[12])  # utime, stime (fields 14, 15)
        return busy / self._tick, mine / self._tick, self._now()

    def _free_between(self, a: tuple, b: tuple) -> tuple[float, int]:
        """(cores the rest of the machine kept busy between samples a and b, cores left)."""
        others = max(0.0, (b[0] - a[0]) - (b[1] - a[1])) / max(1e-9, b[2] - a[2])
        return others, max(1, min(self.cores, int(self.cores - others + 0.5)))

    def __call__(self) -> int:
        """Re-size if a look is due; returns the threads now set."""
        now = self._now()
        if now < self._next:
            return torch.get_num_threads()
        self._next = now + self.interval
        sample = self._sample()
        if sample is None or self._last is None:
            self._last = sample
            return torch.get_num_threads()
        others, n = self._free_between(self._last, sample)
        self._last = sample
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        self.history.append((round(others, 2), n))
        return n


def idle_cores(window: float = 0.5) -> int:
    """Cores the rest of the machine leaves idle, measured over the next `window` s (at
    least 1): unlike `free_cores`' load average it does not lag a job that just ended."""
    import time

    g = ThreadGovernor(interval=window)
    time.sleep(window)
    now = g._sample()
    return free_cores() if g._last is None or now is None else g._free_between(g._last, now)[1]


def compiled(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`module` through torch.compile (dynamic shapes: every batch differs in size).

    On CPU the compiler writes C++ kernels, so a C++ compiler must be on PATH; without
    one this says so at once instead of failing at the first step. The first steps
    compile (about 0.5-3 min on 2 cores); later steps run the fused kernels."""
    if device.type == "cpu" and not (
        os.environ.get("CXX") or any(shutil.which(c) for c in ("g++", "c++", "clang++"))
    ):
        raise ConfigError(
            "--compile needs a C++ compiler on PATH (g++ or clang++, or set CXX): install "
            "one (e.g. `apt install g++`) or train without --compile"
        )
    return torch.compile(module, dynamic=True)
