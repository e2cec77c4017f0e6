"""Multiruns as one table: a status file per job and a report (CSV, Markdown, PNG) in the sweep dir."""

from parasim.sweeps.callback import SweepReport
from parasim.sweeps.report import write_report

__all__ = ["SweepReport", "write_report"]
