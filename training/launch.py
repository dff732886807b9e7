"""Multi-worker training: the ``TF_CONFIG`` of a worker, and ``--workers N`` worker processes on this machine.

``tf.distribute.MultiWorkerMirroredStrategy`` reads the cluster (every worker's
``host:port``) and this process' place in it from the ``TF_CONFIG`` environment variable.
Across machines, the user sets it on each machine and runs the same ``python -m
training.run`` command there. With ``--workers N``, :func:`launch` does that on this
machine: it picks N free ports on 127.0.0.1 and starts N copies of the command, worker
0 (the chief, which writes every file) with its output on this terminal, the others
with theirs in ``<out>/worker-<i>.log``; it waits for all, and when one fails or the
launcher is interrupted, it stops the others.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from training.quiet import filter_stderr

#: Seconds a worker gets to stop after the launcher is interrupted before it is killed.
GRACE_S = 10.0
#: The same after another worker failed: the rest are blocked in a collective operation waiting for
#: it, and do not return to Python to handle SIGTERM.
FAILED_GRACE_S = 2.0


@dataclass(frozen=True)
class Task:
    """This process' place in a multi-worker cluster, from ``TF_CONFIG``."""

    workers: int  # processes training together (TF_CONFIG's "worker" and "chief" entries)
    kind: str  # "worker" or "chief"
    index: int

    @property
    def chief(self) -> bool:
        """The chief writes records, models, checkpoints and the report: task ``chief``, else worker 0."""
        return self.kind == "chief" or (self.kind == "worker" and self.index == 0 and not self._has_chief)

    _has_chief: bool = False


def task_from_env(environ=None) -> Task | None:
    """The :class:`Task` described by ``TF_CONFIG``, or None when it is not set.

    Raises
    ------
    ValueError
        When ``TF_CONFIG`` is not the JSON ``{"cluster": {"worker": [...]}, "task": {"type": ..., "index": ...}}``.

    Examples
    --------
    >>> tf_config = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    >>> task = task_from_env({"TF_CONFIG": json.dumps(tf_config)})
    >>> task.workers, task.index, task.chief
    (2, 1, False)
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
        if kind not in ("worker", "chief") or not 0 <= index < len(cluster[kind]):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(
            'TF_CONFIG must be {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}, '
            f"got {text[:200]!r}"
        ) from None
    return Task(workers=workers, kind=kind, index=index, _has_chief=bool(cluster.get("chief")))


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports free on ``host`` now (all held open together while they are picked)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_argv(argv: list[str], index: int) -> list[str]:
    """The command line of worker ``index``: ``argv`` with ``--worker-index index``."""
    return [*without_worker_index(argv), "--worker-index", str(index)]


def without_worker_index(argv: list[str]) -> list[str]:
    """``argv`` without the internal ``--worker-index`` option (for the record of the invocation).

    Examples
    --------
    >>> without_worker_index(["history", "--workers", "2", "--worker-index", "1", "--quick"])
    ['history', '--workers', '2', '--quick']
    """
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--worker-index":
            skip = True
        elif not arg.startswith("--worker-index="):
            out.append(arg)
    return out


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM if the launcher dies, even by SIGKILL (no orphaned workers)."""
    os.setsid()  # a process group of its own: the launcher alone decides which signal a worker gets
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"exit code {code}, killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"


def _stop(procs: list[subprocess.Popen], sig: int = signal.SIGTERM, grace: float = GRACE_S) -> None:
    """Send ``sig`` to every worker still running, wait ``grace`` seconds, then kill what is left."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def launch(argv: list[str], workers: int, out: Path, prog: str = "python -m training.run") -> int:
    """Run ``python -m training.run argv`` as ``workers`` worker processes on 127.0.0.1; return the exit status.

    Worker 0, the chief, writes to this process' stdout and stderr; worker i > 0 to
    ``out/worker-<i>.log``. Returns 0 when every worker finishes, 130 when interrupted
    (SIGINT or SIGTERM, passed on to the workers), else prints
    ``<prog>: error: worker i failed (exit code c), see <log>``, stops the others and
    returns c (1 for a worker killed by a signal).
    """
    out.mkdir(parents=True, exist_ok=True)
    hosts = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    logs = [None, *(out / f"worker-{i}.log" for i in range(1, workers))]
    procs: list[subprocess.Popen] = []
    received: list[int] = []

    def on_signal(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    others = ", ".join(str(log) for log in logs[1:])
    print(f"workers: {workers} processes on {', '.join(hosts)}; worker 0 below, the others in {others}", flush=True)
    try:
        for i in range(workers):
            tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
            env = dict(os.environ, TF_CONFIG=json.dumps(tf_config))
            if getattr(filter_stderr, "installed", False):  # it set TF_CPP_MIN_LOG_LEVEL: let each worker filter
                env.pop("TF_CPP_MIN_LOG_LEVEL", None)
            cmd = [sys.executable, "-m", "training.run", *worker_argv(argv, i)]
            if logs[i] is None:
                procs.append(subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent))
            else:
                with open(logs[i], "w") as log:
                    procs.append(
                        subprocess.Popen(
                            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
                        )
                    )
        while True:
            codes = [p.poll() for p in procs]
            failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                i = failed[0]
                _stop(procs, grace=FAILED_GRACE_S)
                where = logs[i] if logs[i] is not None else "its output above"
                print(f"{prog}: error: worker {i} failed ({_describe_exit(codes[i])}), see {where}", file=sys.stderr)
                return codes[i] if codes[i] > 0 else 1
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(procs, received[-1] if received else signal.SIGINT)
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _stop(procs)
