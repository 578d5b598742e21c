"""Radial (Bessel) and spherical (Bessel x Legendre) bases with a smooth envelope.

The spherical basis uses the closed-form spherical Bessel functions j_l(z_ln x)
and zonal harmonics Y_l^0 generated symbolically by PyG's `dimenet_utils`
(the same construction as DimeNet), compiled to torch once per layer.
"""

from __future__ import annotations

import math

import sympy as sym
import torch
from torch import Tensor, nn


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


def _compile(expr: sym.Expr, var: sym.Symbol):
    """A sympy expression of one variable as a torch function (constants broadcast)."""
    f = sym.lambdify([var], expr, {"sin": torch.sin, "cos": torch.cos, "sqrt": torch.sqrt})
    if expr.free_symbols:
        return f
    const = float(expr)
    return lambda t: torch.full_like(t, const)


class SphericalBasis(nn.Module):
    """Spherical Bessel x zonal harmonic basis on (distance, angle).

    forward(dist [E], angle [T], idx [T]) -> [T, S * R]: the radial part of edge
    `idx[t]` times the angular part of angle t; index s * R + n.
    """

    def __init__(
        self, num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int = 5
    ):
        super().__init__()
        from torch_geometric.nn.models.dimenet_utils import bessel_basis, real_sph_harm

        self.num_spherical = num_spherical
        self.num_radial = num_radial
        self.cutoff = cutoff
        self.envelope = Envelope(envelope_exponent)
        x, theta = sym.symbols("x theta")
        radial = bessel_basis(num_spherical, num_radial)
        angular = real_sph_harm(num_spherical)
        self._radial = [
            _compile(radial[s][n], x) for s in range(num_spherical) for n in range(num_radial)
        ]
        self._angular = [_compile(sym.sympify(angular[s][0]), theta) for s in range(num_spherical)]

    def forward(self, dist: Tensor, angle: Tensor, idx: Tensor) -> Tensor:
        x = dist / self.cutoff
        rbf = torch.stack([f(x) for f in self._radial], dim=1)  # [E, S*R]
        rbf = self.envelope(x).unsqueeze(-1) * rbf
        cbf = torch.stack([f(angle) for f in self._angular], dim=1)  # [T, S]
        s, n = self.num_spherical, self.num_radial
        return (rbf[idx].view(-1, s, n) * cbf.view(-1, s, 1)).view(-1, s * n)
