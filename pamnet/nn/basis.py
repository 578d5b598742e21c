"""Radial (Bessel) and spherical (Bessel x Legendre) bases with a smooth envelope.

The spherical basis uses closed-form spherical Bessel functions j_l(z_ln x) and
zonal harmonics Y_l^0, derived symbolically as in DimeNet (via PyG's
`dimenet_utils`) and printed once to `_sbf_forms.py` (see `make_sbf_forms`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor, nn

from pamnet.errors import ConfigError
from pamnet.nn import _sbf_forms as forms


class Envelope(nn.Module):
    """Polynomial cutoff u(x) = 1/x + a x^p + b x^(p+1) + c x^(p+2), zero for x >= 1."""

    def __init__(self, exponent: int):
        super().__init__()
        p = exponent
        self.p = p
        self.a = -(p + 1) * (p + 2) / 2
        self.b = p * (p + 2)
        self.c = -p * (p + 1) / 2

    def forward(self, x: Tensor) -> Tensor:
        xp = x.pow(self.p)
        val = 1.0 / x + self.a * xp + self.b * xp * x + self.c * xp * x * x
        return torch.where(x < 1, val, torch.zeros_like(x))


class BesselBasis(nn.Module):
    """sin(f_n d / c) u(d / c) with learnable frequencies f_n (init n pi): [E] -> [E, R]."""

    def __init__(self, num_radial: int, cutoff: float, envelope_exponent: int = 5):
        super().__init__()
        self.cutoff = cutoff
        self.envelope = Envelope(envelope_exponent)
        self.freq = nn.Parameter(torch.empty(num_radial))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.freq.copy_(torch.arange(1, self.freq.numel() + 1, dtype=self.freq.dtype) * math.pi)

    def forward(self, dist: Tensor) -> Tensor:
        x = dist.unsqueeze(-1) / self.cutoff  # [E, 1]
        return self.envelope(x) * torch.sin(self.freq * x)


@lru_cache(maxsize=8)
def _basis_functions(num_spherical: int, num_radial: int) -> tuple[list, list]:
    """Radial [S*R] and angular [S] torch functions, precomputed up to 9 x 9 (nothing is
    derived at load: `ModelConfig` refuses larger sizes)."""
    if num_spherical > forms.NUM_SPHERICAL or num_radial > forms.NUM_RADIAL:
        raise ConfigError(
            f"the spherical basis is precomputed up to {forms.NUM_SPHERICAL} x "
            f"{forms.NUM_RADIAL}; got {num_spherical} x {num_radial}"
        )
    # The zeros z_sn (and so each function) do not depend on how many are taken.
    radial = [
        forms.RADIAL[s * forms.NUM_RADIAL + n]
        for s in range(num_spherical)
        for n in range(num_radial)
    ]
    return radial, forms.ANGULAR[:num_spherical]


class SphericalBasis(nn.Module):
    """Spherical Bessel x zonal harmonic basis on (distance, angle).

    forward(dist [E], angle [T], idx [T]) -> [T, S * R]: the radial part of edge
    `idx[t]` times the angular part of angle t; index s * R + n.
    """

    def __init__(
        self, num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int = 5
    ):
        super().__init__()
        self.num_spherical = num_spherical
        self.num_radial = num_radial
        self.cutoff = cutoff
        self.envelope = Envelope(envelope_exponent)
        self._radial, self._angular = _basis_functions(num_spherical, num_radial)

    def radial(self, dist: Tensor) -> Tensor:
        """[E, S*R] radial part of each edge (`forward` takes it to skip recomputing)."""
        x = dist / self.cutoff
        rbf = torch.stack([f(x) for f in self._radial], dim=1)  # [E, S*R]
        return self.envelope(x).unsqueeze(-1) * rbf

    def forward(
        self, dist: Tensor, angle: Tensor, idx: Tensor, radial: Tensor | None = None
    ) -> Tensor:
        rbf = self.radial(dist) if radial is None else radial
        cbf = torch.stack([f(angle) for f in self._angular], dim=1)  # [T, S]
        s, n = self.num_spherical, self.num_radial
        return (rbf[idx].view(-1, s, n) * cbf.view(-1, s, 1)).view(-1, s * n)
