"""The LightningModule: a PairLoss (which holds the encoder) trained and evaluated on pair batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch

from parasim.evaluation.metrics import pair_metrics
from parasim.losses.base import PairLoss
from parasim.models.batching import PairBatch
from parasim.models.encoder import SentenceEncoder

RANKING_METRICS = ("roc_auc", "avg_precision")


class ParaphraseModule(L.LightningModule):
    """Trains `loss.encoder` with `loss`; validation/test log `split/mse`, `split/roc_auc`, … per epoch."""

    def __init__(self, loss: PairLoss, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False, ignore=["loss"])
        self.loss_fn = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.test_prefix = "test"
        self._outputs: list[tuple[torch.Tensor, ...]] = []
        self.subset_names: list[str] = []
        self.last_metrics: dict[str, float] = {}
        # per prefix, the last evaluation's scores and labels (CPU) in split order: `base` and `test` pair up
        self.last_scores: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def encoder(self) -> SentenceEncoder:
        return self.loss_fn.encoder

    def training_step(self, batch: PairBatch, batch_idx: int) -> torch.Tensor:
        loss = self.loss_fn(batch, batch.labels)
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=len(batch))
        return loss

    def _eval_step(self, batch: PairBatch) -> None:
        self._outputs.append((self.loss_fn.score(batch).detach(), batch.labels, batch.subsets, batch.index))

    def validation_step(self, batch: PairBatch, batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: PairBatch, batch_idx: int) -> None:
        self._eval_step(batch)

    def _eval_epoch_end(self, prefix: str) -> None:
        if not self._outputs:
            return
        scores, labels, subsets, index = (torch.cat(parts) for parts in zip(*self._outputs, strict=True))
        self._outputs.clear()
        if self.trainer.world_size > 1:
            gathered = (self.all_gather(t).flatten() for t in (scores, labels, subsets, index))
            scores, labels, subsets = _drop_repeats(*gathered)
        self.last_scores[prefix] = (scores.detach().float().cpu(), labels.detach().float().cpu())
        metrics = {f"{prefix}/{k}": v for k, v in pair_metrics(scores, labels).items()}
        for name in RANKING_METRICS:  # undefined on one-class data: NaN, which checkpointing ranks last
            metrics.setdefault(f"{prefix}/{name}", float("nan"))
        present = subsets.unique().tolist()
        if len(present) > 1:  # mixtures: every subset on its own too
            for sid in present:
                name = self.subset_names[sid] if sid < len(self.subset_names) else str(sid)
                keep = subsets == sid
                metrics.update({f"{prefix}/{name}/{k}": v for k, v in pair_metrics(scores[keep], labels[keep]).items()})
        self.last_metrics.update(metrics)
        self.log_dict(metrics, sync_dist=True)  # every rank holds the same gathered values: the mean is the value

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end(self.test_prefix)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer=optimizer, num_training_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _drop_repeats(scores: torch.Tensor, labels: torch.Tensor, subsets: torch.Tensor,
                  index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each pair once: a DistributedSampler pads the last batches with pairs from the split's start, so that
    every rank gets as many; counted twice, they would bias the metrics and inflate `n`."""
    order = torch.argsort(index, stable=True)
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = index[order][1:] != index[order][:-1]
    keep = order[first]  # in split order, as one process evaluates: base and tuned scores pair up by position
    return scores[keep], labels[keep], subsets[keep]
