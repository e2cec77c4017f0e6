"""Hydra's Optuna sweeper, resumable: a rerun into the same sweep dir continues an interrupted study.

`conf/hparams_search/optuna.yaml` selects it and keeps the study in the sweep dir (`sqlite:///<sweep dir>/optuna.db`).
Rerunning the command with `hydra.sweep.dir=<that dir>`:
- loads the study with every earlier trial (Hydra's sweeper opens it with `load_if_exists`), so TPE goes on from
  what it has seen;
- runs only the trials still missing: `hydra.sweeper.n_trials` is the study's total. Finished trials (complete or
  pruned; a crashing job completes with `failed_trial_value`) count; a trial the interruption killed stays
  "running" in the database: it is marked failed and its place taken by a new trial;
- numbers the new job dirs after the existing ones (job dir = trial number) instead of writing over jobs 0, 1, …;
- reseeds a seeded sampler with seed + (trials so far): the same seed would draw the first trials' random
  configurations again (TPE starts with `n_startup_trials` random ones).
Without a storage it is Hydra's sweeper unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

log = logging.getLogger(__name__)
SQLITE = "sqlite:///"


def study_progress(storage: str, study_name: str) -> tuple[int, int]:
    """(finished trials, all trials) of a stored study, after marking interrupted ones failed; (0, 0) if none."""
    import optuna
    from optuna.trial import TrialState

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # no study of that name yet
        return 0, 0
    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            study.tell(trial.number, state=TrialState.FAIL)
            log.warning("study %s: trial %d was interrupted; marked failed, a new trial takes its place", study_name,
                        trial.number)
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    return finished, len(trials)


class ResumableOptunaSweeper(OptunaSweeper):
    """`OptunaSweeper` that resumes the study found in its storage (see the module docstring)."""

    def sweep(self, arguments: list[str]) -> None:
        impl = self.sweeper
        if impl.storage and impl.study_name:
            if str(impl.storage).startswith(SQLITE):  # SQLite creates the file, not its folder
                Path(str(impl.storage)[len(SQLITE):]).parent.mkdir(parents=True, exist_ok=True)
            finished, numbered = study_progress(impl.storage, impl.study_name)
            if numbered:
                log.info("study %s resumed: %d of %d trials finished; job dirs go on from %d", impl.study_name,
                         finished, impl.n_trials, numbered)
            impl.n_trials = max(impl.n_trials - finished, 0)
            impl.job_idx = numbered
            sampler = impl.config.hydra.sweeper.sampler
            if numbered and sampler.get("seed") is not None:
                impl.sampler = instantiate(sampler, seed=int(sampler.seed) + numbered)
        return super().sweep(arguments)
