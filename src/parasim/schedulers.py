"""LR schedules as factories taking (optimizer, num_training_steps), so configs need not know the step count."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def constant(optimizer: Optimizer, num_training_steps: int) -> LambdaLR:
    """The seed's schedule: no warm-up, no decay."""
    return LambdaLR(optimizer, lambda step: 1.0)


def linear_warmup(optimizer: Optimizer, num_training_steps: int, warmup_ratio: float = 0.1) -> LambdaLR:
    """Linear warm-up over `warmup_ratio` of the steps, then linear decay to 0."""
    warmup = max(1, int(warmup_ratio * num_training_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (num_training_steps - step) / max(1, num_training_steps - warmup))

    return LambdaLR(optimizer, factor)
