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
THREADS.add_argument("--threads", type=int, default=None, help="torch CPU threads")

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
