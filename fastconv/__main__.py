"""``python -m fastconv``: the same command as ``fastconv`` (see :mod:`fastconv.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
