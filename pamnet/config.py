"""Model configuration: a frozen dataclass saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pamnet.errors import ConfigError

TASKS = ("molecule", "complex", "rna")
VARIANTS = ("PAMNet", "PAMNet_s")


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of one PAMNet. Distances in Å."""

    task: str = "molecule"  # picks the graph builder, atom input and readout
    variant: str = "PAMNet"  # PAMNet_s drops two-hop angles (cheaper local layer)
    dim: int = 128
    n_layer: int = 6
    cutoff_l: float = 5.0  # local angles use this radius (sbf envelope)
    cutoff_g: float = 5.0
    num_targets: int = 1
    num_atom_types: int = 5  # embedding rows: molecule H,C,N,O,F; RNA C,N,O
    atom_feat_dim: int = 18  # complex mode: per-atom features fed to a Linear
    flow: str = "source_to_target"  # global layer; the official RNA model used target_to_source
    knn_k: int = 50  # RNA mode: kNN graph (self included) before both cutoffs
    num_spherical: int = 7
    num_radial: int = 6
    num_rbf: int = 16
    envelope_exponent: int = 5

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.variant == "PAMNet_s" and self.task != "molecule":
            raise ConfigError("PAMNet_s is defined for small molecules only; use variant='PAMNet'")
        if self.dim < 1 or self.n_layer < 1 or self.num_targets < 1:
            raise ConfigError("dim, n_layer and num_targets must be positive")
        if not (0 < self.cutoff_l and 0 < self.cutoff_g):
            raise ConfigError("cutoffs must be positive (Å)")
        if self.flow not in ("source_to_target", "target_to_source"):
            raise ConfigError(f"unknown flow {self.flow!r}")

    @property
    def uses_atom_types(self) -> bool:
        return self.task != "complex"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)
