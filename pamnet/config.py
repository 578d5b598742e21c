"""Model configuration: a frozen dataclass saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pamnet.errors import ConfigError
from pamnet.tasks import TASK_NAMES

VARIANTS = ("PAMNet", "PAMNet_s")
# Sane bounds, checked before anything is allocated (a checkpoint's config is untrusted
# input): inclusive (low, high) per integer field, and Å for the cutoffs. The spherical
# basis is precomputed up to 9 x 9 (`pamnet.nn._sbf_forms`; the paper uses 7 x 6).
BOUNDS = {
    "dim": (1, 1024),
    "n_layer": (1, 32),
    "num_targets": (1, 256),
    "num_atom_types": (1, 128),
    "atom_feat_dim": (1, 1024),
    "knn_k": (1, 512),
    "num_spherical": (1, 9),
    "num_radial": (1, 9),
    "num_rbf": (1, 128),
    "envelope_exponent": (1, 16),
}
MAX_CUTOFF = 50.0
# ~37 n_layer dim^2 weights (measured); 100 M float32 weights are 400 MB.
MAX_PARAMETERS = 100_000_000


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
    # molecule mode: the element of each embedding row, in order (None: QM9's H, C, N, O,
    # F); when given, num_atom_types is its length. See `pamnet.featurize.ORGANIC`.
    elements: tuple[str, ...] | None = None
    atom_feat_dim: int = 18  # complex mode: per-atom features fed to a Linear
    flow: str = "source_to_target"  # global layer; the official RNA model used target_to_source
    knn_k: int = 50  # RNA mode: kNN graph (self included) before both cutoffs
    num_spherical: int = 7
    num_radial: int = 6
    num_rbf: int = 16
    envelope_exponent: int = 5
    # Not the paper's: the index of a target read out as a dipole moment magnitude
    # |Σ_i q_i (r_i − r̄)| from per-atom charges q_i (that target's output channel, fused by
    # the same attention) instead of as a sum; never negative, rotation invariant. Molecule
    # task only; its normalisation must have mean 0 (`pamnet.heads`). None: the paper's
    # readout for every target.
    dipole_target: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ConfigError(f"task must be one of {TASK_NAMES}, got {self.task!r}")
        if self.elements is not None:
            self._check_elements()
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.variant == "PAMNet_s" and self.task != "molecule":
            raise ConfigError("PAMNet_s is defined for small molecules only; use variant='PAMNet'")
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(
                    f"{name} must be an integer from {low} to {high}, got {value!r}; "
                    "is this checkpoint from PAMNet Studio or the official code?"
                )
        for name in ("cutoff_l", "cutoff_g"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= MAX_CUTOFF:
                raise ConfigError(
                    f"{name} must be a distance in (0, {MAX_CUTOFF}] Å, got {value!r}"
                )
        if self.estimated_parameters > MAX_PARAMETERS:
            raise ConfigError(
                f"dim {self.dim} x n_layer {self.n_layer} means about "
                f"{self.estimated_parameters / 1e6:.0f} M weights, over the "
                f"{MAX_PARAMETERS / 1e6:.0f} M this app loads; use a smaller model"
            )
        if self.flow not in ("source_to_target", "target_to_source"):
            raise ConfigError(f"unknown flow {self.flow!r}")
        k = self.dipole_target
        if k is not None:
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < self.num_targets:
                raise ConfigError(
                    f"dipole_target must be a target index from 0 to {self.num_targets - 1}, "
                    f"got {k!r}"
                )
            if self.task != "molecule":
                raise ConfigError("the dipole head is for molecules (task 'molecule')")

    def _check_elements(self) -> None:
        from pamnet.structure import ATOMIC_NUMBERS

        if self.task != "molecule":
            raise ConfigError("elements= is for molecule mode; other tasks have fixed inputs")
        els = self.elements
        if isinstance(els, str) or not all(isinstance(e, str) for e in els):
            raise ConfigError(f"elements must be a list of element symbols, got {els!r}")
        els = tuple(els)
        bad = [e for e in els if e not in ATOMIC_NUMBERS]
        if bad or len(set(els)) != len(els) or not 1 <= len(els) <= BOUNDS["num_atom_types"][1]:
            raise ConfigError(
                f"elements must be distinct element symbols (at most "
                f"{BOUNDS['num_atom_types'][1]}), got {list(els)[:20]!r}"
            )
        object.__setattr__(self, "elements", els)
        object.__setattr__(self, "num_atom_types", len(els))

    @property
    def estimated_parameters(self) -> int:
        """About how many weights the model has (within ~5% for the usual sizes)."""
        return 37 * self.n_layer * self.dim**2 + self.dim * (
            self.num_atom_types + self.atom_feat_dim
        )

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
