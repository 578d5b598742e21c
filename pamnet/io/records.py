"""`Record`: one entry of a multi-structure file, read or refused on its own."""

from __future__ import annotations

from dataclasses import dataclass

from pamnet.errors import StructureError
from pamnet.structure import Structure


@dataclass
class Record:
    """Record `index` (1-based) of a file: its structure, or the typed error that kept it
    from being read. A file of N records gives N `Record`s, whatever fails.

    name: the record's own title where the format has one, else "file#k".
    source: "file.sdf#k", as in messages.
    """

    index: int
    name: str
    source: str
    structure: Structure | None = None
    error: StructureError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        """The one-line reason this record failed ('' when it did not)."""
        return "" if self.error is None else str(self.error).splitlines()[0]

    @classmethod
    def of(cls, index: int, structure: Structure) -> Record:
        return cls(index, structure.name, structure.source, structure)

    @classmethod
    def failed(cls, index: int, name: str, source: str, error: StructureError) -> Record:
        return cls(index, name or source, source, None, error)

    def unwrap(self) -> Structure:
        """The structure, or raise the record's error."""
        if self.error is not None:
            raise self.error
        return self.structure
