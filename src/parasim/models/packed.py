"""Packed MPNet forward: the token-wise layers see only real tokens, attention runs per length-sorted chunk.

Why: on a CPU the linear layers (≈ 24·hidden² FLOPs per token) dominate an MPNet forward, and
attention costs ≈ length/(6·hidden) of that (≈ 1 % for 33-token sentences at hidden 768). Padding
therefore costs almost linearly, and one padded batch of sentences of mixed length wastes most
of its work. Here every chunk's real tokens are concatenated into one (tokens × hidden) matrix for
the embeddings, Q/K/V, output, feed-forward and LayerNorm layers (one large GEMM per layer for the
whole batch), and only attention goes back to the chunks' padded (rows × width) layout: one gather
for all chunks per layer, with MPNet's relative-position bias as a float mask.

Every index comes precomputed in a `Packing` (built on the CPU by the collator), so the forward makes
no host sync: no `.item()`, `.nonzero()`, boolean indexing or tensor-to-bool conversion (tested).
It uses the `MPNetModel`'s own modules and parameters, so gradients, optimisers, checkpoints and
exports see the same model; outputs equal `MPNetModel` within float rounding (tests check it).
"""

from __future__ import annotations

import torch
from transformers import MPNetModel

from parasim.models.kernels import attend, dropout
from parasim.models.packing import Packing


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype matmuls run in: autocast's when it is on for x's device, else x's own."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def _attention_masks(model: MPNetModel, packing: Packing, dtype: torch.dtype) -> list[torch.Tensor]:
    """Per chunk, the relative-position bias plus the key-padding mask in `dtype`, built once for all layers.

    The bias depends only on i − j (MPNet ignores padding when it computes it), so one
    (heads, width, width) table sliced per chunk serves every chunk. Masked keys get `dtype`'s own
    minimum: float32's minimum cast to half would be −inf.
    """
    encoder = model.encoder
    width = max(w for _, w in packing.shapes)
    positions = torch.arange(width, device=packing.ids.device)
    buckets = encoder.relative_position_bucket(positions[None, :] - positions[:, None],
                                               num_buckets=encoder.relative_attention_bias.num_embeddings)
    bias = encoder.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0).to(dtype)
    out = []
    for mask, (_, w) in zip(packing.masks, packing.shapes, strict=True):
        chunk_bias = bias[:, :, :w, :w]
        if mask is not None:
            chunk_bias = chunk_bias.masked_fill(~mask[:, None, None, :], torch.finfo(dtype).min)
        out.append(chunk_bias)
    return out


def _attention(attn, hidden: torch.Tensor, packing: Packing, masks: list[torch.Tensor]) -> torch.Tensor:
    """Self-attention of MPNet's `MPNetSelfAttention` on packed tokens: one gather into all chunks'
    padded layouts, attention per chunk, one gather back to the real tokens."""
    heads, size = attn.num_attention_heads, attn.attention_head_size
    p = attn.dropout.p if attn.training else 0.0
    qkv = torch.cat([attn.q(hidden), attn.k(hidden), attn.v(hidden)], dim=-1).index_select(0, packing.gather)
    outputs = []
    for (rows, width), slots, bias in zip(packing.shapes, qkv.split([r * w for r, w in packing.shapes]), masks,
                                          strict=True):
        q, k, v = slots.view(rows, width, 3, heads, size).permute(2, 0, 3, 1, 4)
        outputs.append(attend(q, k, v, bias, p).transpose(1, 2).reshape(rows * width, heads * size))
    return attn.o(torch.cat(outputs).index_select(0, packing.scatter))


def packed_hidden(model: MPNetModel, packing: Packing) -> torch.Tensor:
    """Last hidden state of every real token, (tokens × hidden), as `MPNetModel` computes it."""
    embeddings = model.embeddings
    hidden = embeddings.word_embeddings(packing.ids) + embeddings.position_embeddings(packing.positions)
    hidden = _dropout(embeddings.dropout, embeddings.LayerNorm(hidden))
    masks = _attention_masks(model, packing, compute_dtype(hidden))
    for layer in model.encoder.layer:
        attention, output = layer.attention, layer.output
        attended = _attention(attention.attn, hidden, packing, masks)
        hidden = attention.LayerNorm(_dropout(attention.dropout, attended) + hidden)
        hidden = output.LayerNorm(_dropout(output.dropout, output.dense(layer.intermediate(hidden))) + hidden)
    return hidden


def _dropout(module: torch.nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """`module`'s dropout (its p, its train/eval state) through `kernels.dropout`."""
    return dropout(x, module.p, module.training)

