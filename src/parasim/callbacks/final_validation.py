"""Every run ends validated: after its last training batch Lightning validates, wherever that batch falls.

Lightning validates at the end of an epoch, or every `trainer.val_check_interval` batches. A run that
`trainer.max_steps` stops mid-epoch, or whose last batch is not a multiple of the interval, ends without
validating: no `val/*` metric, no best checkpoint, and a sweep whose `optimized_metric` is `val/roc_auc` fails
after all its jobs ran. Setting `trainer.should_stop` on that last batch takes the path Lightning's own early
stopping takes: it validates right after the batch, then the checkpoint callbacks save as after any validation.
Lightning honours it only once `trainer.min_epochs`/`min_steps` are met, so the default trainer leaves them unset.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L

log = logging.getLogger(__name__)


def ends_here(trainer: L.Trainer, batch_idx: int) -> bool:
    """Whether the batch just trained is the run's last: `max_steps` reached, or the last batch of the last epoch."""
    if trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps:
        return True
    last_epoch = trainer.max_epochs not in (None, -1) and trainer.current_epoch + 1 >= trainer.max_epochs
    return last_epoch and batch_idx + 1 >= trainer.num_training_batches


class ValidateAtEnd(L.Callback):
    """Asks Lightning to validate after the last training batch (a no-op when it would validate there anyway)."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not trainer.enable_validation or not ends_here(trainer, batch_idx):
            return
        loop = trainer.fit_loop
        if (loop.min_epochs or 0) > trainer.current_epoch or (loop.min_steps or 0) > trainer.global_step:
            log.warning("trainer.min_epochs=%s / min_steps=%s are not met when the run ends at step %d: Lightning will "
                        "not validate there; set them to null", loop.min_epochs, loop.min_steps, trainer.global_step)
            return
        trainer.should_stop = True
