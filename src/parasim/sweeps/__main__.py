"""Rebuild a sweep's report: `python -m parasim.sweeps <sweep dir> [metric=val/roc_auc] [max|min]`."""

import sys

from parasim.sweeps.report import write_report

if not 1 <= len(sys.argv) - 1 <= 3:
    sys.exit(__doc__)
print(write_report(sys.argv[1], *(sys.argv[2:] or ["val/roc_auc"])))
