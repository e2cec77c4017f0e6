"""The export's model card: every section the seed's card had, filled with this run's own numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from parasim.evaluation import calibration
from parasim.evaluation.scorers import sef1
from parasim.export.card import USAGE_PAIRS, USAGE_SENTENCES, ModelCardData
from parasim.export.exporter import seed_defaults
from parasim.losses import CosineMSELoss, SEF1MSELoss
from parasim.models.encoder import build_tiny, load_pretrained
from parasim.weights import model_dir

SECTIONS = ["## Model Details", "### Full Model Architecture", "## Usage", "### Scoring paragraph pairs",
            "## Evaluation", "## Calibration", "## Training Dataset", "## Training Details", "### Loss: `SEF1MSE`",
            "### Non-Default Hyperparameters", "### All Hyperparameters", "### Training Logs",
            "### Framework Versions"]


def test_card_of_a_tiny_training_run_holds_its_numbers(train_cfg, tmp_path: Path) -> None:
    from parasim.train import train

    train(train_cfg(["data.limit=24", "optimizer.lr=1e-3"]))
    export = tmp_path / "export"
    card = (export / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n")
    assert "- loss:SEF1MSE" in card
    positions = [card.index(section) for section in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    assert "- **Maximum Sequence Length:** 384 tokens" in card
    assert "- **Output Dimensionality:** 32 dimensions" in card
    assert "- **Similarity Function:** Cosine Similarity" in card
    assert "(1): Pooling({'word_embedding_dimension': 32, 'pooling_mode_mean_tokens': True" in card
    assert "inner loss `torch.nn.MSELoss`" in card and '"reduction": "mean"' in card

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for split in ("val", "test"):
        for name in ("mse", "roc_auc", "avg_precision"):
            assert f"{metrics[f'{split}/{name}']:.4f}" in card, f"{split}/{name}"
    evaluation = card[card.index("## Evaluation"):card.index("## Calibration")]
    assert f"| mse | {metrics['val/mse']:.4f} | {metrics['test/mse']:.4f} |" in evaluation

    shipped = json.loads((export / calibration.FILENAME).read_text())
    fit = shipped["fit"]
    assert fit["n"] == 24 and fit["kind"] == "binned"
    assert f"| Brier | {fit['brier']:.4f} | {fit['brier_calibrated']:.4f} |" in card
    assert fit["brier_calibrated"] <= fit["brier"]

    losses = pd.read_csv(tmp_path / "csv" / "metrics.csv")["train/loss"].dropna()
    assert f"| 0 | {losses.iloc[0]:.4f} |" in card

    dataset = json.loads((tmp_path / "dataset_card.json").read_text())
    assert f"| train | {dataset['pairs']['train']} |" in card
    assert "| label | train | val | test |" in card

    hyper = card[card.index("### All Hyperparameters"):card.index("### Training Logs")]
    assert "- `lr`: 0.001" in hyper and "lr: 0.001" in hyper  # the seed-card view and the resolved config
    non_default = card[card.index("### Non-Default Hyperparameters"):card.index("### All Hyperparameters")]
    assert "- `lr`: 0.001" in non_default and "`batch_size`" not in non_default

    # the usage numbers are what the exported model computes, not copied text
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(export), device="cpu")
    embeddings = model.encode(USAGE_SENTENCES, convert_to_tensor=True)
    sims = model.similarity(embeddings, embeddings)
    printed = re.search(r"# tensor\((.*)\)", card).group(1)
    np.testing.assert_allclose(np.array(json.loads(printed)), sims.numpy(), atol=2e-4)
    encoder = load_pretrained(export).eval()
    raw = sef1(encoder, [a for a, _ in USAGE_PAIRS], [b for _, b in USAGE_PAIRS])
    calibrated = calibration.load(export / calibration.FILENAME)(raw)
    for (a, b), score, prob in zip(USAGE_PAIRS, raw, calibrated, strict=True):
        assert f"| {a} | {b} | {score:.4f} | {prob:.4f} |" in card


def test_card_without_run_extras_keeps_required_sections() -> None:
    torch.manual_seed(0)
    encoder = build_tiny(model_dir()).eval()
    card = ModelCardData.from_encoder(encoder, SEF1MSELoss(encoder), base_model="tiny", hyperparameters={"lr": 5e-5},
                                      defaults={"lr": 5e-5}).render()
    for section in ("## Model Details", "### Full Model Architecture", "## Usage", "### Loss: `SEF1MSE`",
                    "### All Hyperparameters", "### Framework Versions"):
        assert section in card
    for optional in ("## Evaluation", "## Calibration", "## Training Dataset", "### Training Logs", "| calibrated |"):
        assert optional not in card
    assert "- loss:SEF1MSE" in card


@pytest.mark.parametrize("kind", ["isotonic", "none"])
def test_export_calibration_choice(train_cfg, tmp_path: Path, kind: str) -> None:
    from parasim.train import train

    train(train_cfg(["trainer.max_steps=1", "data.limit=12", f"calibration={kind}"]))
    path = tmp_path / "export" / calibration.FILENAME
    card = (tmp_path / "export" / "README.md").read_text()
    if kind == "none":
        assert not path.exists() and "## Calibration" not in card
    else:
        assert json.loads(path.read_text())["kind"] == "isotonic" and "`isotonic` map" in card


def test_each_loss_describes_itself_in_the_card() -> None:
    """The card names the loss the run trained with; the cosine baseline does not call itself SE-F1."""
    encoder = build_tiny(model_dir()).eval()
    cosine = ModelCardData.from_encoder(encoder, CosineMSELoss(encoder), base_model="tiny", hyperparameters={})
    card = cosine.render()
    assert "- loss:CosineSimilarityLoss" in card and "### Loss: `CosineSimilarityLoss`" in card
    loss_section = card[card.index("### Loss:"):card.index("### Non-Default")]
    assert "Cosine similarity of the two paragraphs" in loss_section and "SE-F1" not in loss_section


def test_seed_defaults_are_read_from_the_seed_experiment_config() -> None:
    assert seed_defaults() == {"batch_size": 4, "optimizer": "SGD", "lr": 5e-5, "momentum": 0.0, "weight_decay": 0.0,
                               "scheduler": "constant", "max_grad_norm": 2.0, "epochs": 1, "seed": 42}
