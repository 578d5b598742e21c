"""Typed errors. Each message says what is wrong and what to do about it."""


class PamnetError(Exception):
    """Base class of every error this package raises on purpose: a user can cause it,
    and its message says what to do. Anything else escaping the package is a bug."""


# --- structures -------------------------------------------------------------
class StructureError(PamnetError, ValueError):
    """A structure could not be read or is unusable."""


class ParseError(StructureError):
    """A file could not be parsed; carries the 1-based line number when known."""

    def __init__(self, message: str, line: int | None = None, source: str | None = None):
        where = ""
        if source:
            where += f"{source}"
        if line is not None:
            where += f"{':' if where else 'line '}{line}" if source else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.source = source


class EmptyInputError(StructureError):
    """The input holds no atoms."""


class NoLigandError(StructureError):
    """Complex mode on a structure with no ligand (a protein or peptide alone)."""


class EncodingError(StructureError):
    """The bytes are not text in a supported encoding (UTF-8 or Latin-1)."""


class UnsupportedFormatError(StructureError):
    """The file format is not one we read."""


class UnsupportedElementError(StructureError):
    """An element the chosen model does not know."""


class MissingCoordinatesError(StructureError):
    """The structure has no 3D coordinates (2D or all-zero)."""


class OverlappingAtomsError(StructureError):
    """Two atoms closer than physically possible."""


class DisconnectedError(StructureError):
    """Fragments where one connected molecule is required."""


class TooLargeError(StructureError):
    """Over a configured size limit (bytes or atoms)."""


class EmbeddingError(StructureError):
    """RDKit could not build 3D coordinates for a SMILES."""


class SmilesError(StructureError):
    """A SMILES string that RDKit cannot parse."""


# --- models and checkpoints -------------------------------------------------
class CheckpointError(PamnetError):
    """A checkpoint file is missing, corrupt, or not ours."""


class ConfigError(PamnetError, ValueError):
    """An option, argument or configuration that does not make sense (also a ValueError,
    as Python code calling the API expects for a bad argument)."""


class UnknownNameError(ConfigError, KeyError):
    """A name (target, example, atom, checkpoint) that is not among those offered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(PamnetError):
    """A dataset file (CSV/SDF/table) with bad rows or columns."""


# --- added with structure I/O -------------------------------------------------
class InputNotFoundError(StructureError, FileNotFoundError):
    """A structure file that does not exist (also a FileNotFoundError)."""


class ResourceNotFoundError(PamnetError, FileNotFoundError):
    """A file the package needs that is not installed (e.g. a local 3Dmol.js)."""
