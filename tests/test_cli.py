"""The command line as a whole: an explicit command list, shared options, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pamnet.cli import COMMANDS, build_parser, main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pamnet", *args], capture_output=True, text=True, timeout=300
    )


def test_every_listed_command_has_its_parser_and_the_shared_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = [n.replace("-", "_") for n in sub.choices]
    assert names == list(COMMANDS)
    for name in ("predict", "explain", "evaluate", "finetune", "train"):
        args = parser.parse_args([name, *_required(name)])
        assert args.device == "auto", name  # --device auto everywhere
    for name in ("inspect", "explain", "evaluate", "checkpoints"):
        args = parser.parse_args([name, *_required(name), "--json"])
        assert args.format == "json", name
        args = parser.parse_args([name, *_required(name), "--format", "json"])
        assert args.format == "json", name
    assert parser.parse_args(["predict", "--smiles", "C", "--json"]).format == "json"


def _required(name: str) -> list[str]:
    return {
        "explain": ["CCO"],
        "inspect": ["CCO"],
        "finetune": ["--data", "x.csv", "--target", "y"],
    }.get(name, [])


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "--smiles", "C1CC("],  # bad SMILES: a failed row, exit 0 with its reason
        ["inspect", "no/such/file.pdb"],
        ["explain", "CCO", "--checkpoint", "no-such-model"],
        ["explain", "CCO", "--target", "no-such-target"],
        ["inspect", "CCO", "--cutoff-g", "0"],
        ["evaluate", "--checkpoint", "no-such-model"],
        ["jobs", "show", "no-such-job"],
    ],
)
def test_bad_input_is_one_line_never_a_traceback(args, tiny_registry):
    result = _run(*args)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 1  # reported: an error line, or a failed row with its reason
    assert "error" in (result.stderr + result.stdout).lower()


def test_a_bug_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    import pamnet.commands.checkpoints as checkpoints

    def boom(args):
        raise ZeroDivisionError("a planted bug")

    monkeypatch.setattr(checkpoints, "run", boom)
    assert main(["checkpoints"]) == 1
    err = capsys.readouterr().err
    assert "unexpected ZeroDivisionError: a planted bug" in err and "--debug" in err
    assert "Traceback" not in err
    assert main(["--debug", "checkpoints"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_targets_lists_meanings_and_a_closed_pipe_is_not_an_error(tiny_registry):
    import json

    out = _run("targets", "--json", "--checkpoint", "tiny")
    assert out.returncode == 0, out.stderr
    rows = {r["target"]: r for r in json.loads(out.stdout)["targets"]}
    assert "occupied orbital" in rows["homo"]["meaning"] and rows["u0"]["unit"] == "eV"
    p = subprocess.Popen(
        [sys.executable, "-m", "pamnet", "targets", "--json", "--checkpoint", "tiny"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    p.stdout.close()  # the reader (say `| head`) is gone before anything is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and err == "", err


def test_train_loss_weights_are_parsed_or_refused_clearly(capsys):
    from pamnet.commands.train import loss_weights

    assert loss_weights(["mu=2", " cv = 1.5"]) == {"mu": 2.0, "cv": 1.5}
    assert loss_weights(None) is None
    for bad in ("mu", "mu=two", "mu=-1", "=2", "mu=inf"):
        assert main(["train", "--loss-weight", bad, "--limit-train", "1"]) == 1, bad
        err = capsys.readouterr().err
        assert f"--loss-weight {bad!r}: expected TARGET=W" in err, err
