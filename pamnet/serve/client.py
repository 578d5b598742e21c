"""The client side of `pamnet serve` (see `pamnet.serve`): where the server listens,
its messages, status and stop, and `call`, which the command line tries first. Standard
library only: a client must start in a few hundredths of a second."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path

from pamnet.errors import PamnetError

SERVED = ("predict", "explain", "inspect")
PACKAGE = Path(__file__).resolve().parents[1]  # the pamnet folder
_HEADER = struct.Struct("!I")  # each message: its length, then JSON


class ServerError(PamnetError):
    """The server cannot start, or its folder is not private."""


def runtime_dir() -> Path:
    """The private folder for sockets and logs: `$PAMNET_SERVE_DIR`, else
    `$XDG_RUNTIME_DIR/pamnet`, else `/tmp/pamnet-<uid>`. Created with mode 0700; one that
    another user owns or others can open is refused (a socket there could be replaced)."""
    base = os.environ.get("PAMNET_SERVE_DIR")
    if base:
        path = Path(base)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "pamnet"
    else:
        path = Path("/tmp") / f"pamnet-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ServerError(
            f"{path} must belong to you and be closed to others (mode 700, it is "
            f"{st.st_mode & 0o777:o}); run `chmod 700 {path}` or set PAMNET_SERVE_DIR"
        )
    return path


def install_key(package: Path | None = None) -> str:
    """12 hex digits naming this installation: the environment (`sys.prefix`: `python`,
    `python3.11` and the `pamnet` script of one venv agree on it), the package folder
    (default: this one) and the newest modification time among its source files
    (about 2 ms to compute)."""
    import hashlib

    package = package or PACKAGE
    newest = 0
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
    text = f"{sys.prefix}\0{package}\0{newest}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def socket_path() -> Path:
    path = runtime_dir() / f"{install_key()}.sock"
    if len(str(path)) > 100:  # sun_path holds 108 bytes
        raise ServerError(
            f"{path} is too long for a socket; set PAMNET_SERVE_DIR to a short folder"
        )
    return path


def served_command(argv: list[str]) -> str | None:
    """The subcommand of `argv` when the server runs it, else None."""
    words = [a for a in argv if not a.startswith("-")]
    return words[0] if words and words[0] in SERVED else None


# -- messages: a 4-byte length, then JSON; the first may carry file descriptors ------


def send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    frame = _HEADER.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [frame], fds)
        frame = frame[sent:]
    sock.sendall(frame)


class Reader:
    def __init__(self, sock: socket.socket):
        self.sock, self.buf, self.fds = sock, b"", []

    def _more(self, want_fds: bool) -> None:
        if want_fds:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 3)
            self.fds += fds
        else:
            data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the other end closed the connection")
        self.buf += data

    def next(self, want_fds: bool = False) -> dict:
        while len(self.buf) < _HEADER.size:
            self._more(want_fds)
        (size,) = _HEADER.unpack_from(self.buf)
        if size > 1 << 24:
            raise ValueError("message too large")
        while len(self.buf) < _HEADER.size + size:
            self._more(want_fds)
        data = self.buf[_HEADER.size : _HEADER.size + size]
        self.buf = self.buf[_HEADER.size + size :]
        return json.loads(data)


def ask(message: dict, path: Path | None = None, timeout: float = 5.0) -> dict | None:
    """Send one control message (status, stop) to the server at `path` (default: this
    installation's); its answer, or None when none answers."""
    try:
        path = path or socket_path()
    except (OSError, ServerError):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            send(sock, message)
            return Reader(sock).next()
        except (OSError, ValueError):
            return None


def status() -> dict | None:
    """{'pid', 'started', 'served', 'checkpoints', 'idle_s', 'socket', 'package'} of this
    installation's server, or None."""
    return ask({"op": "status"})


def stale() -> list[dict]:
    """The status of each server started from this package folder by older code (its
    install key differs): no client reaches them, so they only wait for their idle time."""
    package, here = str(PACKAGE), socket_path()
    found = []
    for path in sorted(here.parent.glob("*.sock")):
        if path != here and (info := ask({"op": "status"}, path, timeout=1.0)):
            if info.get("package") == package:
                found.append(info)
    return found


def stop() -> list[dict]:
    """Stop this installation's server and the stale ones; the status of each stopped."""
    stopped = [info for info in [ask({"op": "stop"})] if info]
    return stopped + [i for i in stale() if ask({"op": "stop"}, Path(i["socket"]))]


# -- the client ---------------------------------------------------------------------


def call(argv: list[str]) -> int | None:
    """Run `pamnet <argv>` in this installation's server and return its exit code; None
    (run it here instead) when the command is not served, PAMNET_SERVE=0, no server
    runs, or the server did not start it."""
    if os.environ.get("PAMNET_SERVE") == "0" or served_command(argv) is None:
        return None
    if os.name != "posix" or not hasattr(socket, "send_fds"):
        return None  # Unix sockets passing file descriptors: Linux, macOS
    try:
        path = socket_path()
    except (OSError, ServerError):
        return None
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # a terminal stays with the client: a child outside its process group would be
    # stopped (SIGTTIN) on reading it; piped or redirected input is passed on
    stdin = os.open(os.devnull, os.O_RDONLY) if os.isatty(0) else 0
    try:
        sock.settimeout(10.0)  # a stopped or stuck server: run here instead
        sock.connect(str(path))
        umask = os.umask(0)
        os.umask(umask)
        request = {"op": "run", "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        send(sock, {**request, "umask": umask}, fds=[stdin, 1, 2])
    except OSError:
        sock.close()
        return None  # nothing ran: the caller runs it here
    finally:
        if stdin != 0:
            os.close(stdin)
    reader, interrupted = Reader(sock), False
    with sock:
        while True:  # the worker's pid; a Ctrl-C meanwhile is forwarded once it is known
            try:
                pid = int(reader.next()["pid"])
                break
            except KeyboardInterrupt:
                interrupted = True
            except (OSError, ValueError, KeyError):
                return _interrupted() if interrupted else None  # nothing ran
        sock.settimeout(None)
        if interrupted:
            _forward(pid)
        while True:
            try:
                return int(reader.next()["rc"])
            except KeyboardInterrupt:  # the worker runs in the server's session
                _forward(pid)
            except (OSError, ValueError, KeyError):
                print(
                    f"error: the pamnet server's worker (pid {pid}) ended without an exit "
                    "code; run the command again with PAMNET_SERVE=0 to run it without "
                    "the server",
                    file=sys.stderr,
                )
                return 1


def _forward(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass


def _interrupted() -> int:
    print("interrupted", file=sys.stderr)
    return 130
