"""Every option of every config group composes; seed_card pins the seed's exact values."""

from __future__ import annotations

import pytest
from hydra.errors import HydraException
from omegaconf import OmegaConf

from conftest import CONF, compose_eval, compose_train

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra", "local"))
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]
EVAL_ONLY = {"suite"}


def test_all_groups_have_options() -> None:
    assert {"model", "loss", "optimizer", "scheduler", "data", "trainer", "logger", "callbacks", "paths",
            "experiment"} <= set(GROUPS)


def st_directory(root) -> str:
    """The least `model=st_dir` reads when composing: a model config and the token cap."""
    root.mkdir()
    (root / "config.json").write_text("{}")
    (root / "sentence_bert_config.json").write_text('{"max_seq_length": 256}')
    return str(root)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_resolves(group: str, option: str, tmp_path) -> None:
    override = f"{group}={option}"
    if group == "hparams_search":
        pytest.skip("hparams_search options change the Hydra sweeper; composed in the sweep tests")
    extra = [f"model.path={st_directory(tmp_path / 'st')}"] if override == "model=st_dir" else []
    compose = compose_eval if group in EVAL_ONLY else compose_train  # groups only scripts/eval.py has
    cfg = compose([override, *extra], tmp_path)
    OmegaConf.resolve(cfg)  # every interpolation resolves
    assert cfg.seed is not None


def test_seed_card_values(tmp_path) -> None:
    cfg = compose_train(["experiment=seed_card"], tmp_path, pin=False)
    assert cfg.data.batch_size == 4
    assert cfg.optimizer._target_ == "torch.optim.SGD"
    assert cfg.optimizer.lr == 5e-5
    assert cfg.optimizer.momentum == 0.0
    assert cfg.optimizer.weight_decay == 0.0
    assert cfg.scheduler._target_ == "parasim.schedulers.constant"
    assert cfg.trainer.gradient_clip_val == 2.0
    assert cfg.trainer.gradient_clip_algorithm == "norm"
    assert cfg.trainer.max_epochs == 1
    assert cfg.trainer.precision == "auto"
    assert cfg.seed == 42
    assert cfg.loss._target_ == "parasim.losses.SEF1MSELoss"


def test_unknown_group_choice_is_a_hydra_error_listing_options(tmp_path) -> None:
    with pytest.raises(HydraException, match="mpnet_base"):
        compose_train(["model=mpnet_huge"], tmp_path)


EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_config_runs(name: str, tmp_path) -> None:
    """Composed as `experiment=<name>` and trained for 2 steps on the tiny model: an experiment file that no
    longer composes, or names an option that no longer exists, fails here."""
    from parasim.train import train

    metrics = train(compose_train([f"experiment={name}", "trainer.max_steps=2", "data.limit=8", "export.enabled=false",
                                   "test=false"], tmp_path))
    assert "time/train_job_s" in metrics
