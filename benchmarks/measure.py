"""Timing and memory helpers shared by the benchmarks."""

from __future__ import annotations

import ctypes
import math
import os
import threading
import time

import torch

_PAGE = os.sysconf("SC_PAGE_SIZE")


def timeit(fn, repeats: int) -> float:
    """Fastest of `repeats` runs of fn() after one warm-up run (CUDA synchronised)."""
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def peak_rss_during(fn, interval_s: float = 2e-4) -> float:
    """MiB of resident memory fn() needs at its peak above what the process holds before
    it: freed heap is returned first (malloc_trim), then a thread samples the resident
    size while fn runs (torch ops release the GIL). Weights and inputs made before the
    call are not counted; everything fn allocates (graphs, activations) is."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    base = peak = rss_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return (max(peak, rss_bytes()) - base) / 2**20


def matmul_flops(fn) -> float:
    """Dense matmul FLOPs (2 m n k per product) of one fn() call, in-place forms included
    (torch's own FlopCounterMode and the profiler skip `addmm_`)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    matmuls = {aten.mm, aten.addmm, aten.addmm_, aten.bmm, aten.baddbmm, aten.baddbmm_}
    total = 0

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            nonlocal total
            if func.overloadpacket in matmuls:
                a, b = args[-2], args[-1]  # (…, mat1, mat2): [.., m, k] x [.., k, n]
                total += 2 * a.numel() * b.shape[-1]
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return float(total)


def gemm_peak_flops(rows: int = 4096, dim: int = 128, repeats: int = 50) -> float:
    """FLOP/s of a float32 [rows, dim] x [dim, 2 dim] matmul, the shape of the model's
    largest per-edge layers, on the current thread count: the machine's practical peak."""
    a, w = torch.randn(rows, dim), torch.randn(2 * dim, dim)
    seconds = timeit(lambda: a @ w.T, repeats)
    return 2 * rows * dim * 2 * dim / seconds
