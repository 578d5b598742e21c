"""The `pamnet` command line: the subcommands listed in `COMMANDS`, in that order.

A command module defines `register(subparsers)`, which adds its parser (with the
shared options of `pamnet.commands._options` as parents) and sets `func=run` (a
function of the parsed args returning an exit code). Errors a user can cause are
`PamnetError`s, printed as one line; anything else is a bug, printed as one line
too unless `--debug` asks for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from pamnet.errors import PamnetError

# The subcommands, in the order `pamnet --help` lists them (module pamnet.commands.<name>).
COMMANDS = (
    "predict",
    "inspect",
    "explain",
    "checkpoints",
    "targets",
    "evaluate",
    "finetune",
    "jobs",
    "serve",
    "train",
    "convert_official",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pamnet", description="PAMNet: physics-aware multiplex GNN for molecules"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks for unexpected errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"pamnet.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # a command line (not a call from Python): a warm server may run it
        from pamnet.serve.client import call

        try:
            code = call(sys.argv[1:])
        except KeyboardInterrupt:  # before the server started anything
            print("interrupted", file=sys.stderr)
            return 130
        if code is not None:
            return code
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to run itself again (ranks)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if hasattr(args, "device"):  # commands that run a model: --threads, else the
            from pamnet.device import size_threads  # cores others leave free

            size_threads(getattr(args, "threads", None))
        return int(args.func(args) or 0)
    except PamnetError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pamnet ... | head`: the reader stopped listening, not a bug
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, never a traceback
        if args.debug:
            traceback.print_exc()
        print(
            f"error: unexpected {type(exc).__name__}: {str(exc)[:300]} (a bug in pamnet; "
            "run again with `pamnet --debug ...` for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
