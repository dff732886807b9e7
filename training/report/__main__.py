"""``python -m training.report DIR``: rebuild REPORT.md, tables and plots from DIR's run records."""

import sys

from training.report import main

sys.exit(main())
