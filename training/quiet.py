"""Keep TensorFlow's start-up notices on a CPU-only machine out of stderr, and nothing else.

TensorFlow's C++ side writes a few lines at import and first use that look like failures
on a machine without a GPU (``E0000 ... failed call to cuInit``, "Could not find cuda
drivers", the oneDNN notice, absl's "before InitializeLog" warning). They bypass Python,
so :func:`filter_stderr` puts a pipe behind file descriptor 2 and a thread copies every
line to the real stderr except those matching :data:`NOISE`. Real errors, tracebacks and
warnings pass through unchanged. ``TF_CPP_MIN_LOG_LEVEL`` set by the user is respected:
with it set, nothing is filtered.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

#: Lines TensorFlow prints on a healthy CPU-only machine.
NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|oneDNN custom operations are on"
    r"|Could not find cuda drivers on your machine"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
    r"|NodeDef mentions attribute use_unbounded_threadpool which is not in the op definition"
    # experimental_distribute_dataset under MultiWorkerMirroredStrategy, on every worker:
    r"|Input of GeneratorDatasetOp::Dataset will not be optimized because the dataset does not implement"
)


def is_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's CPU-only start-up notices.

    Examples
    --------
    >>> is_noise("E0000 00:00:17 123 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR (303)")
    True
    >>> is_noise("ValueError: bad input")
    False
    """
    return bool(NOISE.search(line))


def filter_stderr() -> None:
    """Route file descriptor 2 through a filter that drops :func:`is_noise` lines (once per process)."""
    if getattr(filter_stderr, "installed", False) or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    filter_stderr.installed = True
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"  # INFO lines off; warnings and errors pass the filter
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy():
        with os.fdopen(read_end, "rb") as src, os.fdopen(real, "wb", buffering=0) as dst:
            for line in src:
                if not is_noise(line.decode(errors="replace")):
                    dst.write(line)

    thread = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    thread.start()

    def close():
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last writer closes: the thread sees EOF
        thread.join(timeout=5)

    atexit.register(close)
