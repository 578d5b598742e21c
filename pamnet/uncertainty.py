"""Prediction intervals and the applicability domain, calibrated on held-out data.

**Distance to the training data.** A structure's latent is the mean of its atoms'
final states (`PAMNetOutput.latent`). Its distance is the mean Euclidean distance to
its `K` nearest neighbours among a bank of training latents, each dimension scaled by
the bank's spread, and reported as a ratio `r` to the median distance of the
held-out calibration molecules: r ≈ 1 is a typical held-out molecule.

**Domain.** `in-domain`, `near` or `outside`, with the reasons: r above the 95th
(near) or 99.5th (outside) percentile of the calibration molecules; more atoms or
heavy atoms than any training structure (outside); a formal charge for a model
trained on neutral molecules only (outside); a geometry kind the model was not
trained on (near).

**Intervals.** Normalised split-conformal regression (Papadopoulos et al. 2008;
Lei et al. 2018). The held-out molecules are split in two at random (fixed seed):
on the first half, a difficulty σ_t(x) = a + b·r(x) + c·n(x)/n_ref (n: atoms) is fitted
per target to the absolute errors by non-negative least squares; on the second, the
scores |y − ŷ| / σ_t(x) give the conformal quantile q_t(level) (the ⌈(n+1)·level⌉-th
smallest score). The interval is ŷ ± q_t(level)·σ_t(x): it holds the true value
with probability ≥ level for a structure drawn like the held-out ones, and it widens
where the model is farther from its training data or the structure is larger.
Outside the domain that guarantee does not hold; the domain says so. With fewer than
`MIN_NORMALISED` held-out structures (small fine-tunes) there is nothing to spare for
fitting σ: σ = 1 and all of them give the quantile (plain split-conformal, one width
for every structure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: the CLI reads the constants here
    from torch import Tensor

# Levels the quantiles are stored at; others are interpolated between them.
LEVELS: tuple[float, ...] = tuple(round(0.5 + 0.01 * k, 2) for k in range(50)) + (0.995,)
DEFAULT_LEVEL = 0.9
DEFAULT_CONFORMERS = 5  # MMFF conformers a SMILES is predicted over (1: just one)
MIN_CALIBRATION = 30  # held-out structures below which a checkpoint is not calibrated
MIN_NORMALISED = 200  # below this, plain split-conformal on all of them (σ = 1)
BANK_SIZE = 2048  # training latents kept in the checkpoint
K = 5  # neighbours in the latent distance
NEAR_PERCENTILE, OUTSIDE_PERCENTILE = 95.0, 99.5
DOMAIN_LEVELS = ("in-domain", "near", "outside")
SPLIT_SEED = 0


@dataclass
class Calibration:
    """What a checkpoint needs for intervals and its domain (see the module doc).

    quantiles: {target: q at each of `levels`}; sigma: {target: [a, b, c]}; n: molecules
    behind the quantiles; bank [M, dim] and scale [dim]: training latents and their
    spread; d_ref: median calibration distance; r_near, r_outside: the domain cut-offs
    on r; n_ref: median atom count; limits: what the training data had (max_atoms,
    max_heavy, charged, geometry); source: where the held-out data came from."""

    targets: list[str]
    levels: list[float]
    quantiles: dict[str, list[float]]
    sigma: dict[str, list[float]]
    n: int
    bank: Tensor
    scale: Tensor
    d_ref: float
    r_near: float
    r_outside: float
    n_ref: float
    limits: dict = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict:
        """Checkpoint payload form (tensors stay tensors: `weights_only` loads them)."""
        import torch

        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["bank"] = self.bank.to(torch.float16).cpu()
        d["scale"] = self.scale.float().cpu()
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> Calibration | None:
        if not d:
            return None
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["bank"] = d["bank"].float()
        kw["scale"] = d["scale"].float()
        return cls(**kw)

    # --- distance and domain -------------------------------------------------
    def ratio(self, latents: Tensor) -> np.ndarray:
        """[n] r: each latent's kNN distance to the bank over the calibration median."""
        return knn_distance(latents, self.bank, self.scale) / self.d_ref

    # --- intervals --------------------------------------------------------------
    def quantile(self, target: str, level: float) -> float:
        """The conformal quantile of `target` at `level` (inf when the held-out set is
        too small for that level)."""
        check_level(level)
        return float(np.interp(level, self.levels, self.quantiles[target]))

    def sigma_of(self, target: str, r: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
        a, b, c = self.sigma[target]
        return a + b * np.asarray(r, float) + c * np.asarray(n_atoms, float) / self.n_ref

    def half_width(
        self, target: str, r: np.ndarray, n_atoms: np.ndarray, level: float = DEFAULT_LEVEL
    ) -> np.ndarray:
        """[n] interval half-widths of `target` for structures at distance r with n atoms."""
        return self.quantile(target, level) * self.sigma_of(target, r, n_atoms)

    def describe(self) -> str:
        if self.sigma and all(c == [1.0, 0.0, 0.0] for c in self.sigma.values()):
            return f"split-conformal on {self.n:,} held-out structures ({self.source})"
        return (
            f"normalised split-conformal on {self.n:,} held-out structures "
            f"({self.source}); difficulty from the latent distance to {len(self.bank):,} "
            "training structures and the atom count"
        )


def check_level(level: float) -> None:
    from pamnet.errors import ConfigError

    if not (LEVELS[0] <= level <= LEVELS[-1]):
        raise ConfigError(
            f"interval level {level:g} is outside {LEVELS[0]:g}-{LEVELS[-1]:g}; "
            "give e.g. 0.9 for 90% intervals"
        )


def knn_distance(latents: Tensor, bank: Tensor, scale: Tensor, k: int = K) -> np.ndarray:
    """[n] mean distance of each latent to its k nearest bank latents (scaled space)."""
    import torch

    if len(latents) == 0:
        return np.zeros(0)
    x = latents.double().cpu() / scale.double()  # float64: cdist's matrix form loses
    b = bank.double().cpu() / scale.double()  # ~1e-3 on near-equal points in float32
    k = min(k, len(b))
    out = []
    for chunk in torch.split(x, 4096):
        d = torch.cdist(chunk, b)
        out.append(d.topk(k, dim=1, largest=False).values.mean(1))
    return torch.cat(out).numpy()


# --- calibrating ------------------------------------------------------------
def bank_rows(sizes, n: int = BANK_SIZE, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices of up to n training structures for the latent bank, spread evenly over
    their sizes (heavy atoms): each size gets an equal share, or all it has, and the
    shares it cannot use go to the others. A random sample would hold almost only the
    commonest size (QM9: 9 heavy atoms), and ethanol would look far from everything."""
    sizes = np.asarray(sizes)
    g = np.random.default_rng(seed)
    groups = {v: g.permutation(np.flatnonzero(sizes == v)) for v in np.unique(sizes)}
    take = dict.fromkeys(groups, 0)
    left = min(n, len(sizes))
    while left > 0:
        open_ = [v for v in groups if take[v] < len(groups[v])]
        share = max(1, left // len(open_))
        for v in open_:
            k = min(share, len(groups[v]) - take[v], left)
            take[v] += k
            left -= k
    return np.sort(np.concatenate([groups[v][: take[v]] for v in groups]))


def calibrate(
    pred: np.ndarray,
    y: np.ndarray,
    latents: Tensor,
    n_atoms: np.ndarray,
    train_latents: Tensor,
    targets: list[str],
    limits: dict,
    source: str,
    seed: int = SPLIT_SEED,
) -> Calibration:
    """A `Calibration` from held-out predictions `pred` [n, T] with truths `y` (NaN: a
    target not measured for that structure), their latents and atom counts, and the
    latents of the training structures (`bank_rows` picks them; past `BANK_SIZE`, a random
    `BANK_SIZE` of them are kept)."""
    import torch

    from pamnet.errors import DataError

    n = len(pred)
    if n < MIN_CALIBRATION:
        raise DataError(
            f"{n} held-out structures; intervals need at least {MIN_CALIBRATION} to be calibrated"
        )
    g = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(train_latents), generator=g)[:BANK_SIZE]
    bank = train_latents[keep].float()
    scale = bank.std(0).clamp(min=1e-6) if len(bank) > 1 else torch.ones(bank.shape[1])
    d = knn_distance(latents, bank, scale)
    d_ref = float(np.median(d)) or 1.0
    r = d / d_ref
    n_atoms = np.asarray(n_atoms, float)
    n_ref = float(np.median(n_atoms)) or 1.0
    perm = torch.randperm(n, generator=g).numpy()
    small = n < MIN_NORMALISED  # too few to spare half for fitting σ: plain conformal
    fit_rows, conf_rows = (perm[:0], perm) if small else (perm[: n // 2], perm[n // 2 :])
    quantiles, sigma = {}, {}
    for k, t in enumerate(targets):
        err = np.abs(pred[:, k] - y[:, k])
        coef = (
            [1.0, 0.0, 0.0]
            if small
            else _fit_sigma(err[fit_rows], r[fit_rows], n_atoms[fit_rows] / n_ref)
        )
        sigma[t] = coef
        s = err / (coef[0] + coef[1] * r + coef[2] * n_atoms / n_ref)
        quantiles[t] = conformal_quantiles(s[conf_rows], LEVELS)
    return Calibration(
        targets=list(targets),
        levels=list(LEVELS),
        quantiles=quantiles,
        sigma=sigma,
        n=len(conf_rows),
        bank=bank,
        scale=scale,
        d_ref=d_ref,
        r_near=float(np.percentile(r, NEAR_PERCENTILE)),
        r_outside=float(np.percentile(r, OUTSIDE_PERCENTILE)),
        n_ref=n_ref,
        limits=dict(limits),
        source=source,
    )


def _fit_sigma(err: np.ndarray, r: np.ndarray, size: np.ndarray) -> list[float]:
    """[a, b, c] >= 0 of a + b·r + c·size fitted to err (least squares), with a floor
    on a so that no structure gets a zero-width interval."""
    from scipy.optimize import nnls

    ok = np.isfinite(err)
    err, r, size = err[ok], r[ok], size[ok]
    if len(err) == 0:
        return [1.0, 0.0, 0.0]
    coef, _ = nnls(np.stack([np.ones_like(r), r, size], 1), err)
    floor = 0.05 * float(np.median(err)) or 1e-12
    coef[0] = max(coef[0], floor)
    return [float(c) for c in coef]


def conformal_quantiles(scores: np.ndarray, levels) -> list[float]:
    """The split-conformal quantile at each level: the ⌈(n+1)·level⌉-th smallest score
    (inf when that is past n), NaN scores ignored."""
    s = np.sort(scores[np.isfinite(scores)])
    n = len(s)
    out = []
    for level in levels:
        k = math.ceil((n + 1) * level)
        out.append(float(s[k - 1]) if 1 <= k <= n else math.inf)
    return out


# --- assessing one structure --------------------------------------------------
@dataclass
class Domain:
    """Where a structure stands against the training data: level (`DOMAIN_LEVELS`),
    the reasons (empty when in-domain), and its latent distance ratio r (None when the
    checkpoint has no calibration)."""

    level: str = "in-domain"
    reasons: list[str] = field(default_factory=list)
    distance: float | None = None

    def add(self, level: str, reason: str) -> None:
        if DOMAIN_LEVELS.index(level) > DOMAIN_LEVELS.index(self.level):
            self.level = level
        self.reasons.append(reason)

    def to_dict(self) -> dict:
        d = {"level": self.level, "reasons": list(self.reasons)}
        if self.distance is not None:
            d["distance"] = round(self.distance, 3)
        return d

    def summary(self) -> str:
        """'outside: 24 heavy atoms, ...' or 'in-domain'."""
        return self.level + (": " + "; ".join(self.reasons) if self.reasons else "")


def assess(structure, limits: dict, r: float | None, cal: Calibration | None) -> Domain:
    """The domain of one structure from the training data's `limits` (max_atoms,
    max_heavy, charged, geometry, dataset) and its latent distance ratio r."""
    dom = Domain(distance=r)
    data = limits.get("dataset") or "the training data"
    if structure is not None:
        heavy = sum(e != "H" for e in structure.elements)
        max_heavy, max_atoms = limits.get("max_heavy"), limits.get("max_atoms")
        if max_heavy and heavy > max_heavy:
            dom.add("outside", f"{heavy} heavy atoms; {data} has at most {max_heavy}")
        elif max_atoms and structure.n_atoms > max_atoms:
            dom.add("outside", f"{structure.n_atoms} atoms; {data} has at most {max_atoms}")
        charges = getattr(structure, "formal_charges", None)
        if charges is not None and limits.get("charged") is False and np.any(charges):
            q = int(np.sum(charges))
            what = f"net charge {q:+d}" if q else "formal charges (zwitterion)"
            dom.add("outside", f"{what}; {data} molecules are all neutral")
        expected, got = limits.get("geometry"), getattr(structure, "geometry", None)
        if expected and got and expected != "any" and got != expected:
            if not (expected == "dft" and got == "file"):
                dom.add("near", f"{got} geometry; the model was trained on {expected} geometries")
    if r is not None and cal is not None:
        if r > cal.r_outside:
            dom.add("outside", f"far from every training structure (distance {r:.1f}× typical)")
        elif r > cal.r_near:
            dom.add("near", f"farther than 95% of held-out structures (distance {r:.1f}× typical)")
    return dom
