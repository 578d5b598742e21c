"""CPU thread sizing: what a job takes when other processes hold cores."""

from __future__ import annotations

import torch

from pamnet import device
from pamnet.device import ThreadGovernor


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _governor(monkeypatch, cores: int, samples: list[tuple[float, float, float]]):
    """A governor on `cores` cores fed (machine busy s, own CPU s, wall s) samples."""
    clock = _Clock()
    feed = iter(samples)
    monkeypatch.setattr(ThreadGovernor, "_now", staticmethod(clock))
    monkeypatch.setattr(ThreadGovernor, "_sample", lambda self: next(feed))
    gov = ThreadGovernor(interval=1.0)
    gov.cores = cores
    return gov, clock


def test_threads_follow_the_cores_others_leave_free(monkeypatch):
    n0 = torch.get_num_threads()
    try:
        # machine busy 3 core-s in 1 s, 1 of them ours: others hold 2 of 4 cores
        gov, clock = _governor(monkeypatch, 4, [(0, 0, 0), (3, 1, 1), (4, 2, 2), (9.6, 2.5, 3)])
        assert gov() == n0  # not due yet: nothing measured, nothing changed
        clock.t = 1.0
        assert gov() == 2 and torch.get_num_threads() == 2
        clock.t = 1.5
        assert gov() == 2  # between looks: a time check only
        clock.t = 2.0
        assert gov() == 4  # the others stopped: every core
        clock.t = 3.0
        assert gov() == 1  # others on 5.1 of 4 cores (spinning): still one thread
        assert gov.history == [(2.0, 2), (0.0, 4), (5.1, 1)]
    finally:
        torch.set_num_threads(n0)


def test_a_chosen_thread_count_is_kept(monkeypatch):
    n0 = torch.get_num_threads()
    try:
        device.size_threads(1)
        assert device.threads_fixed()
        assert ThreadGovernor.when_useful(torch.device("cpu")) is None
        device.size_threads(None)  # sized from the load: the governor may change it
        assert not device.threads_fixed()
        assert isinstance(ThreadGovernor.when_useful(torch.device("cpu")), ThreadGovernor)
        assert ThreadGovernor.when_useful(torch.device("cpu"), world=2) is None
        assert ThreadGovernor().cores >= 1 and ThreadGovernor()._sample() is not None
    finally:
        device._FIXED[0] = False
        torch.set_num_threads(n0)


def test_idle_cores_counts_what_others_keep_busy_now(monkeypatch):
    """`pamnet train --processes` asks how many cores are idle now (not the lagging load
    average): machine busy 2.5 core-s over 1 s, 0.5 of them ours -> others hold 2 of 4."""
    feed = iter([(10.0, 1.0, 100.0), (12.5, 1.5, 101.0)])
    monkeypatch.setattr(ThreadGovernor, "_sample", lambda self: next(feed))
    monkeypatch.setattr("time.sleep", lambda s: None)
    monkeypatch.setattr(ThreadGovernor, "__init__", _four_cores)
    assert device.idle_cores() == 2


def _four_cores(self, interval: float = 5.0):
    self.interval, self.cores, self._tick = interval, 4, 100
    self._last = self._sample()
    self._next, self.history = 0.0, []
