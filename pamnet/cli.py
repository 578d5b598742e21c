"""The `pamnet` command line. Each module in `pamnet.commands` adds one subcommand.

A command module defines `register(subparsers)`, which adds its parser and sets
`func=run` (a function of the parsed args returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from pamnet.errors import PamnetError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pamnet", description="PAMNet: physics-aware multiplex GNN for molecules"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import pamnet.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pamnet.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PamnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
