"""Settings of the whole test session."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    # "auto"'s measured answers go to a file of this session (each xdist worker its own), never to the
    # user's ~/.cache/fastconv/auto.json; subprocesses the tests start inherit it.
    if "FASTCONV_WISDOM" not in os.environ:
        folder = tempfile.mkdtemp(prefix="fastconv-tests-")
        os.environ["FASTCONV_WISDOM"] = os.path.join(folder, "auto.json")
