"""A fork server for CLI tests: each run is a real, separate ``python -m perptui`` process,
without paying the interpreter start and the imports (~2 s under load) every time.

Why: bad-input tests must run the real entry point with their own argv, environment,
cwd and stdin, and be judged on the real exit status and on what reached file
descriptors 1 and 2 -- with nothing left over from the run before (module state,
logging handlers, signal handlers, open databases, event loops).  One ``subprocess.run``
per case costs ~2 s of CI; running in the pytest process shares all of that state.
Forking a process that has already imported what the commands import gives both: each
case is its own process, started from the same clean, never-used state, in ~30 ms.

How: ``CliServer`` starts ``python tests/cli_server.py`` once.  It imports perptui's CLI,
every command module and their heavy dependencies (ccxt, aiosqlite, pandas, textual),
checks that it is single-threaded, and then serves one request at a time on a private
pipe pair (JSON lines, each answer carrying its request's id).  For each request it
hands the request to a child forked ahead of time (the fork overlaps the test's own
work), which:

- starts its own session (so a hung run is killed with all its descendants),
- points fds 0/1/2 at /dev/null or a file holding the given stdin, and two pipes,
  and builds ``sys.stdin/stdout/stderr`` on them as the interpreter would,
- replaces ``os.environ`` and the cwd (``sys.path[0]`` is the cwd, as with ``-m``),
- runs ``perptui/__main__.py`` with ``runpy`` exactly as ``python -m perptui`` does
  (so ``cli.main()`` sees ``sys.argv`` and takes its from-the-process path), with live
  venues pointed at a loopback port as ``tests/loopback_venues.py`` does,
- ends as the interpreter ends: ``SystemExit`` gives the exit code (a non-int code is
  printed, exit 1), any other uncaught exception prints its traceback and exits 1,
  then non-daemon threads are joined, atexit handlers run, stdio is flushed, and the
  process leaves with ``os._exit``.

The server reads both pipes while it waits; past the request's timeout the child's
process group is killed and the answer says ``timed_out``.  A server that fails in any
way (a bad request, a child it cannot account for, EOF) raises ``ServerError`` in the
test -- it never produces an answer of its own (``tests/cli/test_cli_server.py``).

What is not the same as a fresh interpreter: modules are imported once, from the
server's environment, so an import-time read of an environment variable sees the
server's value (perptui reads none at import); stdin given as bytes is a file, not a
pipe.  Cases that must cover the interpreter's own start path stay on ``subprocess.run``.

Used by ``tests/cli/test_bad_input.py``.  The ~1,250 rows of the bad-input table
(``test_bad_input_table.py``) still run in-process: through this server the same rows
took 1.9x as long (77 s against 40 s for 628 rows, one run after the other), which CI
cannot spare today.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PRELOAD = (
    "perptui.cli",
    "perptui.stack",
    "perptui.doctor",
    "perptui.headless",
    "perptui.store.db",
    "ccxt",
    "ccxt.pro",
    "aiosqlite",
    "pandas",
    "textual.app",
    "loopback_venues",
)


class ServerError(RuntimeError):
    """The fork server itself failed: the test that asked must fail, never pass."""


@dataclass(frozen=True)
class Run:
    """What one CLI process did: its exit status (``-N`` for signal N), its output."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


# ----------------------------------------------------------------------------- client


def without_settings(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without perptui settings or credentials: no row sees the developer's own."""
    return {
        k: v
        for k, v in env.items()
        if not k.startswith("PERPTUI_")
        and not k.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD"))
    }


class CliServer:
    """The test side: start the server once, then ``run`` one CLI process per call."""

    def __init__(self, env: dict[str, str]) -> None:
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            env=env, cwd=REPO,
        )  # fmt: skip
        self._sent = 0
        ready = self._read()
        if ready.get("ready") is not True:
            raise ServerError(f"server did not start: {ready}")

    def run(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        stdin: bytes | None = None,
        timeout: float = 60.0,
        hostport: str | None = None,
        busy_timeout_ms: int | None = None,
    ) -> Run:
        """Run ``python -m perptui ARGV`` in a new process forked from the server."""
        self._sent += 1
        request = {
            "id": self._sent,
            "argv": list(argv),
            "env": dict(env),
            "cwd": str(cwd),
            "stdin": None if stdin is None else base64.b64encode(stdin).decode(),
            "timeout": timeout,
            "hostport": hostport,
            "busy_timeout_ms": busy_timeout_ms,
        }
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise ServerError(f"server gone: {self._server_log()}") from exc
        answer = self._read()
        while answer.get("id") != self._sent:
            # the answer to a request whose test was interrupted (pytest-timeout) while
            # it waited: that test has failed already; the ids keep the rest matched
            if not isinstance(answer.get("id"), int) or answer["id"] > self._sent:
                raise ServerError(f"answer out of order: {answer}")
            answer = self._read()
        if "error" in answer:
            raise ServerError(answer["error"])
        return Run(
            returncode=answer["returncode"],
            stdout=base64.b64decode(answer["stdout"]).decode(),
            stderr=base64.b64decode(answer["stderr"]).decode(),
            timed_out=answer["timed_out"],
            seconds=answer["seconds"],
        )

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise ServerError(f"server exited ({self._proc.poll()}): {self._server_log()}")
        return json.loads(line)

    def _server_log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def close(self) -> None:
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass  # the server is gone already (its test says why)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


# ----------------------------------------------------------------------------- server


def _serve() -> None:
    import gc
    import importlib
    import pkgutil
    import threading

    # The protocol gets private fds; 0 and 1 must not be shared with the children.
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    os.set_inheritable(requests.fileno(), False)
    os.set_inheritable(answers.fileno(), False)

    for name in PRELOAD:
        importlib.import_module(name)
    import perptui.commands as commands

    for mod in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"perptui.commands.{mod.name}")
    if threading.active_count() != 1:
        raise ServerError(f"preloading started threads: {threading.enumerate()}")
    # The preloaded objects are left out of every child's garbage collections: a
    # collection would write to each object's header and copy most of the heap's pages.
    gc.collect()
    gc.freeze()

    def answer(obj: dict[str, Any]) -> None:
        answers.write(json.dumps(obj).encode() + b"\n")
        answers.flush()

    answer({"ready": True})
    keep = (requests.fileno(), answers.fileno())
    spare = _fork_spare(keep)
    for line in requests:
        req: Any = None
        try:
            req = json.loads(line)
            taken, spare = spare, None
            answer({"id": req["id"], **_run_one(req, taken)})
        except Exception:
            import traceback

            answer(
                {
                    "id": req.get("id") if isinstance(req, dict) else None,
                    "error": traceback.format_exc(),
                }
            )
        if spare is None:
            spare = _fork_spare(keep)
    os.close(spare.req_w)  # EOF: the spare exits without running anything
    os.waitpid(spare.pid, 0)


@dataclass(frozen=True)
class _Spare:
    """A child forked ahead of its request, waiting for it on `req_w`'s pipe."""

    pid: int
    req_w: int
    out_r: int
    err_r: int


def _fork_spare(keep: tuple[int, ...]) -> _Spare:
    """Fork the next row's process now, while the test prepares that row.

    The fork (page tables of a ~200 MB process) then overlaps the test's own work
    instead of adding to each row; the child is the same never-used copy of the server
    either way, and takes its argv, environment and cwd only when the request comes.
    """
    import threading

    if threading.active_count() != 1:
        raise ServerError(f"server has threads, cannot fork: {threading.enumerate()}")
    req_r, req_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            for fd in (*keep, req_w, out_r, err_r):
                os.close(fd)
            with os.fdopen(req_r, "rb") as fh:
                data = fh.read()
            if not data:  # the server is closing: no row for this one
                os._exit(0)
            _child(json.loads(data), out_w, err_w)
        except BaseException:
            import traceback

            traceback.print_exc()  # on the row's stderr once redirected: the row says why
        os._exit(70)  # only reached if _child itself broke: a visible, odd status
    for fd in (req_r, out_w, err_w):
        os.close(fd)
    return _Spare(pid, req_w, out_r, err_r)


def _run_one(req: dict[str, Any], spare: _Spare) -> dict[str, Any]:
    stdin_path = None
    if req["stdin"] is not None:
        fd, stdin_path = tempfile.mkstemp(prefix="perptui-stdin-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64decode(req["stdin"]))
    started = time.monotonic()
    try:
        with os.fdopen(spare.req_w, "wb") as fh:
            fh.write(json.dumps({**req, "stdin_path": stdin_path}).encode())
        status, out, err, timed_out = _collect(
            spare.pid, spare.out_r, spare.err_r, float(req["timeout"])
        )
    finally:
        if stdin_path is not None:
            os.unlink(stdin_path)
    code = os.waitstatus_to_exitcode(status)
    return {
        "returncode": code,
        "stdout": base64.b64encode(out).decode(),
        "stderr": base64.b64encode(err).decode(),
        "timed_out": timed_out,
        "seconds": time.monotonic() - started,
    }


def _collect(pid: int, out_r: int, err_r: int, timeout: float) -> tuple[int, bytes, bytes, bool]:
    """Read both pipes until EOF and the child's exit, or kill its group at `timeout`."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    pidfd = os.pidfd_open(pid)
    open_fds = {out_r, err_r}
    status: int | None = None
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while open_fds or status is None:
            left = deadline - time.monotonic()
            if left <= 0 and not timed_out:
                timed_out = True
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + 10  # EOF follows the kill
                continue
            if left <= 0:
                raise ServerError(f"child {pid} did not end after SIGKILL")
            watched = [*open_fds] + ([pidfd] if status is None else [])
            ready, _, _ = select.select(watched, [], [], left)
            for fd in ready:
                if fd == pidfd:
                    _, status = os.waitpid(pid, 0)
                    continue
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    open_fds.discard(fd)
                    os.close(fd)
    finally:
        os.close(pidfd)
        for fd in open_fds:
            os.close(fd)
    return status, b"".join(chunks[out_r]), b"".join(chunks[err_r]), timed_out


def _child(req: dict[str, Any], out_w: int, err_w: int) -> None:
    import io
    import runpy

    os.setsid()
    src = os.open(req["stdin_path"] or os.devnull, os.O_RDONLY)
    for fd, target in ((src, 0), (out_w, 1), (err_w, 2)):
        os.dup2(fd, target)
        os.close(fd)
    # New text streams on the new fds, with the encoding and error handlers the
    # interpreter chose at start-up (stderr is line-buffered, as since Python 3.9).
    old = (sys.stdin, sys.stdout, sys.stderr)
    unbuffered = bool(req["env"].get("PYTHONUNBUFFERED"))

    def stream(fd: int, like: Any, mode: str) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        tty = os.isatty(fd)
        return io.TextIOWrapper(
            buf, encoding=like.encoding, errors=like.errors, write_through=unbuffered,
            line_buffering=tty or fd == 2,
        )  # fmt: skip

    sys.stdin = sys.__stdin__ = stream(0, old[0], "r")
    sys.stdout = sys.__stdout__ = stream(1, old[1], "w")
    sys.stderr = sys.__stderr__ = stream(2, old[2], "w")

    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    sys.path[0] = os.getcwd()  # what `python -m` puts first
    if req["busy_timeout_ms"] is not None:
        from perptui.store import db as store_db

        store_db.BUSY_TIMEOUT_MS = int(req["busy_timeout_ms"])
    if req["hostport"] is not None:
        import loopback_venues

        from perptui import stack

        stack.make_venues = loopback_venues.wrap_make_venues(stack.make_venues, req["hostport"])
    sys.argv = ["perptui", *req["argv"]]
    code = _as_interpreter(lambda: runpy.run_module("perptui", run_name="__main__", alter_sys=True))
    if code < 0:  # an uncaught Ctrl-C: the interpreter ends by that signal, as here
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _as_interpreter(run: Any) -> int:
    """Run `run` and end the way the interpreter ends a script: the exit code it gives."""
    import atexit
    import threading
    import traceback

    code = 0
    try:
        run()
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code & 0xFF  # what the OS keeps of it (sys.exit(-1) is 255)
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # joins non-daemon threads, as at interpreter exit
    atexit._run_exitfuncs()
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            code = 120  # the interpreter's status when flushing stdio fails
    return code


if __name__ == "__main__":
    _serve()
