"""The two operations whose fastest form differs by device, each beside its fallback: dropout and attention.

Dropout. torch's CPU dropout draws one 32-bit Mersenne-Twister number per element for a float
Bernoulli mask (`bernoulli_`, one thread), divides it by 1 − p and multiplies: ≈ 9 ms per
1,000 × 768 activations on two cores, ≈ 6 % of a training step of all-mpnet-base-v2. On a CPU, 16
random bits per element come from NumPy's PCG64 instead (four elements per 64-bit draw: ≈ 4× faster
than one torch draw per element), seeded by one draw of torch's generator, so `torch.manual_seed` and
`seed_everything` still fix every mask. One comparison and one `where` give the float mask that
already holds the scale 1 / (1 − p); forward and backward are then one multiply each. p is honoured
to 1/65,536 (0.1 drops at rate 0.100006). Other devices keep torch's fused kernel.

Attention. Under dropout on a CPU, attention is spelled out (matmul, /√d, + bias, softmax, dropout,
matmul) so its probabilities go through the cheaper mask above; everywhere else SDPA picks its fused
kernel (with MPNet's relative-position bias as an additive float mask).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

_LEVELS = 2**16  # random levels per element: 16 bits, read as int16 in [-2**15, 2**15)
_SEED_RANGE = 2**62


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype) -> torch.Tensor:
    """Float mask of `shape` (CPU): 0 with probability p (to 1/65,536), else 1 / (1 − p)."""
    n = math.prod(shape)
    seed = int(torch.randint(_SEED_RANGE, (), dtype=torch.int64))
    bits = np.random.PCG64(seed).random_raw(-(-n // 4))  # uint64, uniform: four 16-bit lanes each
    lanes = torch.from_numpy(bits.view(np.int16)[:n]).view(shape)
    keep = lanes >= round(p * _LEVELS) - _LEVELS // 2
    return torch.where(keep, torch.tensor(1.0 / (1.0 - p), dtype=dtype), torch.tensor(0.0, dtype=dtype))


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 − p), when training."""
    if not training or p == 0.0:
        return x
    if x.device.type == "cpu" and p < 1.0:
        return x * keep_mask(x.shape, p, x.dtype)
    return F.dropout(x, p, training)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, p: float) -> torch.Tensor:
    """Softmax(q·kᵀ/√d + bias)·v with dropout p on the probabilities; `bias` is already in q's dtype."""
    if p > 0.0 and q.device.type == "cpu":
        scores = torch.matmul(q, k.transpose(-1, -2)).div_(math.sqrt(q.shape[-1])) + bias
        return torch.matmul(dropout(torch.softmax(scores, dim=-1), p, True), v)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
