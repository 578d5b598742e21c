"""What the QM9 targets mean, in plain words (the app's tooltips, `pamnet targets`).

Values are computed by QM9 with DFT (B3LYP/6-31G(2df,p)) for the molecule at its
optimised geometry, in vacuum, at 0 K unless said otherwise.
"""

from __future__ import annotations

# target -> (short name, plain-language meaning)
QM9_MEANINGS: dict[str, tuple[str, str]] = {
    "mu": ("dipole moment", "how unevenly charge is spread: the size of the molecule's "
           "electric dipole (always >= 0)"),
    "alpha": ("isotropic polarizability", "how easily an electric field distorts the "
              "electron cloud; grows with size and with loosely held electrons"),
    "homo": ("HOMO energy", "energy of the highest occupied orbital: how tightly the most "
             "loosely held electron is bound (more negative = harder to oxidise)"),
    "lumo": ("LUMO energy", "energy of the lowest unoccupied orbital: where an added "
             "electron would go (lower = easier to reduce)"),
    "gap": ("HOMO-LUMO gap", "LUMO minus HOMO: a rough measure of electronic stability and "
            "of the lowest excitation energy"),
    "r2": ("electronic spatial extent <R²>", "how far the electrons spread from the centre "
           "of charge, squared and averaged: a size measure (always >= 0)"),
    "zpve": ("zero-point vibrational energy", "energy the molecule keeps from vibrating "
             "even at 0 K (always >= 0)"),
    "u0": ("internal energy at 0 K", "total energy of the molecule with its zero-point "
           "vibration, measured from separated electrons and nuclei: large and negative"),
    "u": ("internal energy at 298 K", "U0 plus the thermal energy at room temperature"),
    "h": ("enthalpy at 298 K", "U plus pV (= kT per molecule for an ideal gas)"),
    "g": ("free energy at 298 K", "H minus T times the entropy: what decides equilibria"),
    "cv": ("heat capacity at 298 K", "energy needed to warm the molecule by one kelvin at "
           "constant volume (always > 0)"),
}  # fmt: skip


def short_name(target: str) -> str:
    """'u0' -> 'internal energy at 0 K'; other targets are their own name."""
    return QM9_MEANINGS.get(target, (target, ""))[0]


def meaning(target: str) -> str:
    """One plain-language sentence about a target ('' when unknown)."""
    name, text = QM9_MEANINGS.get(target, ("", ""))
    return f"{name}: {text}" if text else ""


# Quantities that cannot be negative, and why (for the note on an impossible value).
NONNEGATIVE: dict[str, str] = {
    "mu": "a dipole moment is a magnitude",
    "alpha": "a polarizability is positive",
    "r2": "<R²> is a mean squared distance",
    "zpve": "a zero-point energy is positive",
    "cv": "a heat capacity is positive",
}


def impossible(values: dict[str, float], units: dict[str, str]) -> list[tuple[str, str]]:
    """(target, note) for each value that cannot be (a negative NONNEGATIVE one)."""
    out = []
    for t, why in NONNEGATIVE.items():
        v = values.get(t)
        if v is not None and v < 0:
            unit = units.get(t, "")
            out.append((t, f"impossible value left out: {t} = {v:.4g} {unit}".rstrip()
                        + f" ({why}); the model is off by at least that much here"))  # fmt: skip
    return out
