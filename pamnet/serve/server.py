"""The server of `pamnet serve` (see `pamnet.serve`): warm up, listen, fork a worker
per call, reap it."""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from pamnet.errors import PamnetError
from pamnet.serve.client import (
    PACKAGE,
    SERVED,
    Reader,
    ServerError,
    ask,
    send,
    socket_path,
    stale,
    status,
)

IDLE_S = 30 * 60.0  # default: stop after 30 minutes without a call
WARM_SMILES = "CC(=O)Nc1ccc(O)cc1"  # paracetamol: one explanation fills every cache


def _warm_up() -> list[str]:
    """Import what the served commands use and load the default checkpoints, each with
    one explanation and one prediction (float64 copy, basis functions, RDKit). Returns
    the checkpoints loaded."""
    from pamnet import cli, registry
    from pamnet.explain import explain
    from pamnet.predict import Predictor

    cli.build_parser()  # imports every command module
    loaded: list[str] = []
    for geometry in ("mmff", None):  # SMILES and 2D inputs, then 3D ones
        name = registry.default_name(geometry)
        if name in loaded:
            continue
        try:
            predictor = Predictor.from_name(name, "cpu")
            explain(WARM_SMILES, predictor)
            predictor.predict([WARM_SMILES])
        except PamnetError:
            continue  # not shipped here: loaded on first use instead
        loaded.append(name)
    return loaded


def _peer_is_me(conn: socket.socket) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):
        return True  # the folder's mode 700 already keeps others out
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return uid == os.getuid()


def _run_child(listener: socket.socket, conn: socket.socket, request: dict, fds: list[int]):
    """In the forked child: become the client's process (stdio, folder, environment),
    run the command, send the exit code; never returns."""
    # a Ctrl-C the client forwards waits until stdio is the client's and main can take it
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:  # first: a client that gave up (timeout) must not get output after all
        send(conn, {"pid": os.getpid()})
    except OSError:
        os._exit(1)
    code = 1
    try:
        listener.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        enc = {"encoding": sys.stdout.encoding, "errors": sys.stdout.errors}
        sys.stdin = open(0, closefd=False, encoding=sys.stdin.encoding)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False, **enc)  # noqa: SIM115 - line-buffered on a tty
        sys.stderr = open(2, "w", closefd=False, buffering=1, **enc)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request["env"])
        os.umask(int(request["umask"]))
        sys.argv = ["pamnet", *request["argv"]]
        os.chdir(request["cwd"])
        from pamnet.cli import main

        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one sent lands here
        code = main(list(request["argv"]))
    except SystemExit as exc:  # argparse: --help, usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:  # before main's own handler: as main says it
        print("interrupted", file=sys.stderr)
        code = 130
    except BaseException as exc:  # noqa: BLE001 - reported to the client, never a hang
        print(f"error: {type(exc).__name__}: {exc} (in the pamnet server)", file=sys.stderr)
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # the exit code gets out
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - the reader may be gone
                pass
        try:
            send(conn, {"rc": int(code)})
        except OSError:
            pass
        os._exit(int(code) & 0xFF)


def serve(idle_s: float = IDLE_S, say=print) -> int:
    """Run the server in this process until stopped, interrupted or idle for `idle_s`
    seconds; returns the number of calls it ran."""
    import torch

    torch.set_num_threads(1)  # see the module docstring: no thread pool to fork
    path = socket_path()
    if status() is not None:
        raise ServerError(f"a pamnet server already runs for this installation ({path})")
    for info in stale():
        ask({"op": "stop"}, Path(info["socket"]))
        say(f"stopped the server of an older version of this code (pid {info['pid']})")
    started = time.time()
    checkpoints = _warm_up()
    path.unlink(missing_ok=True)  # a server that died left it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(32)
    inode = path.stat().st_ino
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    say(
        f"pamnet server ready in {time.time() - started:.1f} s (pid {os.getpid()}, "
        f"{', '.join(checkpoints) or 'no checkpoint'} loaded): `pamnet "
        f"{' / '.join(SERVED)}` now run in it; it stops after {idle_s / 60:g} idle "
        "minutes, with Ctrl-C, or with `pamnet serve --stop`",
        flush=True,
    )
    children: set[int] = set()
    served, last, peak = 0, time.monotonic(), None
    try:
        while True:
            for pid in list(children):
                done, _, usage = os.wait4(pid, os.WNOHANG)
                if done:  # reaped; its peak counts the pages it shares with the server
                    children.discard(pid)
                    peak = usage.ru_maxrss / 1024
            if not children and time.monotonic() - last > idle_s:
                say(f"pamnet server: {idle_s / 60:g} minutes without a call; stopping", flush=True)
                break
            if not select.select([listener], [], [], 0.5)[0]:
                continue
            conn, _ = listener.accept()
            last, fds = time.monotonic(), []
            with conn:
                try:
                    if not _peer_is_me(conn):
                        continue
                    reader = Reader(conn)
                    conn.settimeout(5.0)
                    request = reader.next(want_fds=True)
                    fds = reader.fds
                    op = request.get("op")
                    if op == "run" and len(fds) == 3:
                        pid = os.fork()
                        if pid == 0:  # the worker never returns to this loop
                            try:
                                _run_child(listener, conn, request, fds)
                            finally:
                                os._exit(1)
                        children.add(pid)
                        served += 1
                    elif op in ("status", "stop"):
                        info = {
                            "pid": os.getpid(),
                            "started": started,
                            "served": served,
                            "checkpoints": checkpoints,
                            "idle_s": idle_s,
                            "socket": str(path),
                            "package": str(PACKAGE),
                            "threads": torch.get_num_threads(),
                            "last_call_peak_mib": peak,
                        }
                        send(conn, info)
                        if op == "stop":
                            break
                except (OSError, ValueError, KeyError):
                    pass  # a client that went away or spoke nonsense: drop it
                finally:
                    for fd in fds:
                        os.close(fd)
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
        try:
            if path.stat().st_ino == inode:
                path.unlink()
        except OSError:
            pass
        _finish(children)
    return served


def _finish(children: set[int], grace_s: float = 30.0) -> None:
    """Let running calls finish for up to `grace_s` (one may wait on its input forever),
    then end them with SIGTERM; reap every one (no zombies left behind)."""
    deadline = time.monotonic() + grace_s
    while children and time.monotonic() < deadline:
        children -= {pid for pid in children if os.waitpid(pid, os.WNOHANG)[0]}
        time.sleep(0.1)
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
