"""Fail early and clearly: checks of the config, the files and the hardware before anything is built, and no
secrets in saved files (`preflight`); the same checks as a Hydra callback before Hydra writes the run dir."""

from parasim.reliability.preflight import preflight

__all__ = ["preflight"]
