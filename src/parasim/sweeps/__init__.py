"""Multiruns as one table: a status file per job and a report (CSV, Markdown, PNG) in the sweep dir."""

from parasim.sweeps.callback import SweepReport
from parasim.sweeps.report import write_report
from parasim.sweeps.status import read_status, write_status

__all__ = ["SweepReport", "read_status", "write_report", "write_status"]
