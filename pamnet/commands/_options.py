"""Options several subcommands share, as argparse parent parsers (one definition each)."""

from __future__ import annotations

import argparse

DEVICES = ("auto", "cpu", "cuda")

DEVICE = argparse.ArgumentParser(add_help=False)
DEVICE.add_argument(
    "--device",
    default="auto",
    choices=DEVICES,
    help="auto (default): the GPU when there is one, else the CPU",
)

THREADS = argparse.ArgumentParser(add_help=False)
THREADS.add_argument(
    "--threads",
    type=int,
    default=None,
    help="torch CPU threads (default: the cores other processes leave free, followed as "
    "they change while training)",
)

# Commands that print a report: readable text by default, JSON with --json or --format json.
OUTPUT = argparse.ArgumentParser(add_help=False)
OUTPUT.add_argument(
    "--format",
    choices=("text", "json"),
    default="text",
    help="text (default) for people, json for programs",
)
OUTPUT.add_argument(
    "--json", dest="format", action="store_const", const="json", help="same as --format json"
)


def _level(text: str) -> float:
    """'0.9', '90' or '90%' -> 0.9, within the calibrated levels."""
    from pamnet.uncertainty import LEVELS

    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level; give e.g. 0.9 or 90") from None
    v = v / 100 if v > 1 else v
    if not LEVELS[0] <= v <= LEVELS[-1]:
        raise argparse.ArgumentTypeError(
            f"level {text} is outside {LEVELS[0]:g}-{LEVELS[-1]:g} (50%-99.5%); give e.g. 0.9"
        )
    return v


# Calibrated checkpoints give intervals; this chooses their level.
LEVEL = argparse.ArgumentParser(add_help=False)
LEVEL.add_argument(
    "--level",
    type=_level,
    default=0.9,
    metavar="P",
    help="level of the prediction intervals: 0.9 or 90 (default) for 90%% intervals",
)
