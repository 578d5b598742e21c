"""`pamnet serve`: a warm server runs predict, explain and inspect for the command line,
with the output, exit code and files of a fresh process, and nothing else changes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest

from pamnet.serve import client as serve
from pamnet.testing import write_tiny_registry

pytestmark = pytest.mark.xdist_group("serve")  # one server for the module


class Server:
    def __init__(self, env: dict[str, str], proc: subprocess.Popen):
        self.env, self.proc = env, proc

    def status(self) -> dict | None:
        with mock.patch.dict(os.environ, self.env, clear=True):
            return serve.status()

    def run(self, *args: str, local: bool = False, **kw) -> subprocess.CompletedProcess:
        env = {**self.env, "PAMNET_SERVE": "0"} if local else self.env
        cmd = [sys.executable, "-m", "pamnet", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    env = {**os.environ, **write_tiny_registry(root)}
    env["PAMNET_SERVE_DIR"] = tempfile.mkdtemp(prefix="pserve")  # short: a socket path
    env.pop("PAMNET_SERVE", None)  # conftest turns servers off for the other tests
    log = open(root / "server.log", "w")  # noqa: SIM115
    cmd = [sys.executable, "-m", "pamnet", "serve", "--idle-minutes", "10"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    srv = Server(env, proc)
    deadline = time.monotonic() + 120
    while srv.status() is None:
        assert proc.poll() is None, (root / "server.log").read_text()
        assert time.monotonic() < deadline, "the server was not ready in 120 s"
        time.sleep(0.2)
    yield srv
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)
    log.close()
    shutil.rmtree(env["PAMNET_SERVE_DIR"], ignore_errors=True)


def _served(srv: Server) -> int:
    return srv.status()["served"]


def test_a_served_call_prints_what_a_fresh_process_prints(server):
    before = _served(server)
    warm = server.run("explain", "CC(=O)Nc1ccc(O)cc1", "--ig-steps", "8", "--ig-tolerance", "0")
    assert _served(server) == before + 1  # the server ran it: not a local fallback
    fresh = server.run(
        "explain", "CC(=O)Nc1ccc(O)cc1", "--ig-steps", "8", "--ig-tolerance", "0", local=True
    )
    assert _served(server) == before + 1
    assert warm.returncode == fresh.returncode == 0, warm.stderr
    assert warm.stdout == fresh.stdout
    assert "IG coords" in warm.stdout and "tiny" in warm.stdout
    info = server.status()
    assert info["threads"] == 1  # no thread pool for the children to inherit
    assert info["checkpoints"] == ["tiny"]


def test_relative_files_errors_and_usage_come_back_as_from_a_fresh_process(server, tmp_path):
    (tmp_path / "in.csv").write_text("smiles\nCCO\nnot a smiles\nCCN\n")
    for out, local in (("warm.csv", False), ("fresh.csv", True)):
        done = server.run(
            "predict", "in.csv", "-o", out, "--conformers", "1", local=local, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert "2 predicted, 1 failed" in done.stderr
    warm, fresh = (tmp_path / "warm.csv").read_text(), (tmp_path / "fresh.csv").read_text()
    assert warm == fresh and "not a smiles" in warm
    with_stdin = server.run("predict", "-", "--conformers", "1", input="CCO\n", cwd=tmp_path)
    assert with_stdin.returncode == 0 and with_stdin.stdout.count("CCO") == 1, with_stdin.stderr
    before = _served(server)
    for args in (("explain", "C1CC"), ("explain", "CCO", "--no-such-option")):
        warm, fresh = server.run(*args), server.run(*args, local=True)
        assert (warm.returncode, warm.stdout, warm.stderr) == (
            fresh.returncode,
            fresh.stdout,
            fresh.stderr,
        )
        assert warm.returncode in (1, 2) and warm.stderr.strip()
    assert _served(server) == before + 2


def test_ctrl_c_stops_the_call_and_not_the_server(server):
    # the call waits on standard input that never ends, so only the interrupt ends it.
    # The client starts with SIGINT's default action: a process that inherits it ignored
    # (as a pytest-xdist worker's children may) ignores Ctrl-C, served or not
    start = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    start += "os.execv(sys.executable, [sys.executable, '-m', 'pamnet', 'predict', '-'])"
    cmd = [sys.executable, "-c", start]
    proc = subprocess.Popen(
        cmd,
        env=server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    before = _served(server)
    deadline = time.monotonic() + 30
    while _served(server) == before and time.monotonic() < deadline:
        time.sleep(0.1)  # until the server has forked the call's worker
    assert _served(server) == before + 1
    from pamnet.jobs.procs import descendants

    pid = server.status()["pid"]
    assert len(descendants(pid)) == 1
    proc.send_signal(signal.SIGINT)
    # not communicate(): it closes stdin, and the worker, reading it, could end on that
    # end-of-file (exit 1, "stdin is empty") before the forwarded interrupt reaches it
    proc.wait(timeout=30)
    err = proc.stderr.read()
    proc.stdin.close()
    assert proc.returncode == 130 and "interrupted" in err, err
    deadline = time.monotonic() + 10
    while descendants(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert descendants(pid) == []  # the worker is gone and reaped: no zombie
    assert server.status()["pid"] == pid


def test_a_client_never_reaches_a_server_of_other_code(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("")
    (package / "sub" / "b.py").write_text("")
    key = serve.install_key(package)
    assert serve.install_key(package) == key
    later = time.time() + 10
    os.utime(package / "sub" / "b.py", (later, later))  # an edit, an upgrade
    assert serve.install_key(package) != key
    assert serve.install_key(package) != serve.install_key()  # another package folder
    # `pamnet` (its script's interpreter) and `python -m pamnet` of one environment agree
    here = subprocess.run(
        [sys.executable, "-c", "from pamnet.serve import client; print(client.install_key())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    names = [f"python{sys.version_info[0]}.{sys.version_info[1]}", "python3", "python"]
    bin_dir, own = Path(sys.executable).parent, Path(sys.executable).name
    script = next(bin_dir / n for n in names if n != own and (bin_dir / n).exists())
    there = subprocess.run(
        [str(script), "-c", "from pamnet.serve import client; print(client.install_key())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert here == there == serve.install_key()


def test_a_folder_others_can_open_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    monkeypatch.setenv("PAMNET_SERVE_DIR", str(folder))
    with pytest.raises(serve.ServerError, match="chmod 700"):
        serve.socket_path()
    monkeypatch.delenv("PAMNET_SERVE", raising=False)
    assert serve.call(["explain", "CCO"]) is None  # the command runs here instead


def test_only_the_quick_commands_are_served(monkeypatch):
    monkeypatch.delenv("PAMNET_SERVE", raising=False)
    assert serve.served_command(["--debug", "explain", "CCO"]) == "explain"
    assert serve.served_command(["predict", "--smiles", "CCO"]) == "predict"
    for argv in (["train", "--dataset", "qm9"], ["serve", "--stop"], ["finetune"], []):
        assert serve.served_command(argv) is None
    monkeypatch.setenv("PAMNET_SERVE", "0")
    assert serve.call(["explain", "CCO"]) is None


def test_stop_ends_the_server_and_removes_its_socket(server):
    socket_file = Path(server.status()["socket"])
    done = server.run("serve", "--stop")
    assert done.returncode == 0 and "stopping" in done.stdout
    assert server.proc.wait(30) == 0
    assert not socket_file.exists()
    assert server.run("serve", "--status").stdout.startswith("no pamnet server runs")
    fresh = server.run("explain", "CCO")  # no server: runs here, same as ever
    assert fresh.returncode == 0 and "tiny" in fresh.stdout
