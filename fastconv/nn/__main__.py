"""``python -m fastconv.nn MODEL.keras [--data PATH] [--compare-keras]``; see :mod:`fastconv.nn.cli`."""

import sys

from .cli import main

sys.exit(main())
