"""`Session`: what a user has chosen so far, kept between reruns of the app.

Plain Python (no Streamlit), so it can be tested and reused outside the app: the
app's `ui` layer keeps one instance in `st.session_state`. It holds the current
structure(s), the chosen record, task, cutoffs, complex options and checkpoint.
Loading new input replaces the structures only once it has been read without
error, so a bad file never loses what was loaded before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pamnet.errors import ConfigError, UnknownNameError
from pamnet.featurize import guess_task
from pamnet.structure import Structure
from pamnet.tasks import get_task

DEFAULT_POCKET_CUTOFF = 6.0  # Å, as in `featurize.complex_input`


def input_key(kind: str, data: bytes | str, name: str = "") -> str:
    """A short stable id of some input ('smiles', 'upload', 'example', ...) and its content."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    h = hashlib.sha256(kind.encode() + b"\0" + name.encode("utf-8", "replace") + b"\0" + raw)
    return f"{kind}:{h.hexdigest()[:16]}"


@dataclass
class Session:
    """The user's current structure(s) and choices.

    structures: every record of the last input read (a multi-record SDF gives
    several); index: the chosen one. key: `input_key` of that input, so the same
    upload is not read twice. label: where it came from, for people. task: one of
    `tasks.TASK_NAMES`; cutoff_l / cutoff_g: Å (reset to the task's defaults when
    the task changes). ligand_resname: complex ligand residue (None = automatic);
    pocket_cutoff: Å. checkpoint: registry name of the chosen model (None = default).
    rejected: input key -> error message, for inputs that could not be read.
    skipped: one line per record of the current input that could not be read.
    """

    structures: list[Structure] = field(default_factory=list)
    index: int = 0
    key: str = ""
    label: str = ""
    task: str = "molecule"
    cutoff_l: float = get_task("molecule").cutoffs[0]
    cutoff_g: float = get_task("molecule").cutoffs[1]
    ligand_resname: str | None = None
    pocket_cutoff: float = DEFAULT_POCKET_CUTOFF
    checkpoint: str | None = None
    rejected: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def structure(self) -> Structure | None:
        """The chosen record, or None before anything was loaded."""
        return self.structures[self.index] if self.structures else None

    @property
    def structure_key(self) -> str:
        """Id of the chosen record (input key + index), for caches."""
        return f"{self.key}#{self.index}"

    def load(self, structures: list[Structure], key: str, label: str) -> None:
        """Make `structures` (read without error) current; task guessed from the first."""
        if not structures:
            raise ConfigError("load() needs at least one structure")
        self.structures = list(structures)
        self.skipped = []
        self.key, self.label = key, label
        self.rejected.pop(key, None)
        self.ligand_resname = None
        self.select(0)

    def load_records(self, records: list, key: str, label: str) -> None:
        """Make the readable `pamnet.io.Record`s current and list the others in `skipped`;
        when none is readable, raise the first one's error (nothing current changes)."""
        good = [r.structure for r in records if r.ok]
        if not good:
            raise records[0].error
        self.load(good, key, label)
        self.skipped = [f"record {r.index} ({r.name}): {r.message}" for r in records if not r.ok]

    def reject(self, key: str, message: str) -> None:
        """Remember that input `key` failed with `message` (the current structure stays)."""
        self.rejected[key] = message

    def select(self, index: int) -> None:
        """Choose record `index`; the task is re-guessed from it."""
        if not 0 <= index < len(self.structures):
            raise UnknownNameError(f"no record {index + 1}: the input has {len(self.structures)}")
        self.index = index
        self.set_task(guess_task(self.structures[index]), reset_cutoffs=True)

    def set_task(self, task: str, reset_cutoffs: bool = False) -> None:
        """Choose the task; cutoffs go back to its defaults when it changes."""
        spec = get_task(task)  # ConfigError for an unknown name
        if task != self.task or reset_cutoffs:
            self.cutoff_l, self.cutoff_g = spec.cutoffs
        self.task = task

    def featurize_kw(self) -> dict:
        """Keyword arguments for the current task's featurizer (`Task.featurize`)."""
        if self.task != "complex":
            return {}
        return {"ligand_resname": self.ligand_resname, "pocket_cutoff": self.pocket_cutoff}

    def summary(self) -> dict:
        """name, formula, n_atoms, task and record ('2 of 4') of the current structure."""
        s = self.structure
        if s is None:
            return {}
        return {
            "name": s.name or s.source or "unnamed",
            "formula": s.formula,
            "n_atoms": s.n_atoms,
            "task": self.task,
            "record": f"{self.index + 1} of {len(self.structures)}",
        }
