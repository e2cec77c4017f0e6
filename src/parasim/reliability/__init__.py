"""Fail early and clearly: checks before training, a NaN guard during it, and no secrets in saved files."""

from parasim.reliability.nan_guard import NanGuard, NonFiniteLossError
from parasim.reliability.preflight import preflight

__all__ = ["NanGuard", "NonFiniteLossError", "preflight"]
