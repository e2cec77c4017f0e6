"""Packed MPNet forward: the token-wise layers see only real tokens, attention runs per length-sorted chunk.

Why: on a CPU the linear layers (≈ 24·hidden² FLOPs per token) dominate an MPNet forward, and
attention costs ≈ length/(6·hidden) of that (≈ 1 % for 33-token sentences at hidden 768). Padding
therefore costs almost linearly, and one padded batch of sentences of mixed length wastes most
of its work. Here every chunk's real tokens are concatenated into one (tokens × hidden) matrix for
the embeddings, Q/K/V, output, feed-forward and LayerNorm layers (one large GEMM per layer for the
whole batch), and only attention goes back to the chunks' padded (rows × width) layout: one gather
for all chunks per layer, with MPNet's relative-position bias as a float mask.

It uses the `MPNetModel`'s own modules and parameters, so gradients, optimisers, checkpoints and
exports see the same model; outputs equal `MPNetModel` within float rounding (tests check it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import MPNetModel

from parasim.models.dropout import dropout

POSITION_OFFSET = 2  # MPNet numbers real tokens from padding_idx + 1 = 2 (fairseq convention)


@dataclass
class Packing:
    """Where each chunk's real tokens sit in the flat token matrix, shared by all layers of one forward."""

    ids: torch.Tensor  # (tokens,) real token ids, chunk by chunk, row by row
    positions: torch.Tensor  # (tokens,) position ids as MPNet numbers them
    sequence: torch.Tensor  # (tokens,) row of each token in the concatenated chunk outputs
    lengths: torch.Tensor  # (rows,) real tokens per row
    masks: list[torch.Tensor | None]  # per chunk (rows, width) bool, True = real token; None = no padding
    shapes: list[tuple[int, int]]  # per chunk (rows, width)
    gather: torch.Tensor  # (slots,) token that fills each slot of the chunks' padded layouts, chunk after chunk
    scatter: torch.Tensor  # (tokens,) slot of each real token in those layouts


def pack(chunks: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Packing:
    """Flatten padded (ids, attention_mask) chunks into real tokens only (right padding assumed).

    A padding slot is filled with the real token before it: its key is masked out and its query's
    output is dropped, so any finite value serves, and its gradient is exactly zero.
    """
    ids, positions, lengths, masks, shapes, gather, scatter = [], [], [], [], [], [], []
    tokens = slots = 0
    for chunk_ids, chunk_mask in chunks:
        mask = chunk_mask.bool()
        flat = mask.reshape(-1)
        ids.append(chunk_ids[mask])
        positions.append((mask.cumsum(dim=1) - 1 + POSITION_OFFSET)[mask])
        lengths.append(mask.sum(dim=1))
        masks.append(None if bool(mask.all()) else mask)
        shapes.append((int(mask.shape[0]), int(mask.shape[1])))
        gather.append((flat.cumsum(0) - 1).clamp(min=0) + tokens)
        scatter.append(flat.nonzero().squeeze(1) + slots)
        tokens += int(ids[-1].numel())
        slots += flat.numel()
    lengths = torch.cat(lengths)
    sequence = torch.repeat_interleave(torch.arange(lengths.numel(), device=lengths.device), lengths)
    return Packing(torch.cat(ids), torch.cat(positions), sequence, lengths, masks, shapes, torch.cat(gather),
                   torch.cat(scatter))


def _attention_masks(model: MPNetModel, packing: Packing, dtype: torch.dtype) -> list[torch.Tensor]:
    """Per chunk, the relative-position bias plus the key-padding mask, built once for all layers.

    The bias depends only on i − j (MPNet ignores padding when it computes it), so one
    (heads, width, width) table sliced per chunk serves every chunk.
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


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, p: float) -> torch.Tensor:
    """Attention of one chunk. Under dropout on a CPU it spells out `MPNetSelfAttention`'s steps so the
    probabilities go through parasim's cheaper dropout; otherwise SDPA picks its fused kernel."""
    if p == 0.0 or q.device.type != "cpu":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p)
    scores = torch.matmul(q, k.transpose(-1, -2)).div_(math.sqrt(q.shape[-1])) + bias
    return torch.matmul(dropout(torch.softmax(scores, dim=-1), p, True), v)


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
        outputs.append(_attend(q, k, v, bias, p).transpose(1, 2).reshape(rows * width, heads * size))
    return attn.o(torch.cat(outputs).index_select(0, packing.scatter))


def packed_hidden(model: MPNetModel, packing: Packing) -> torch.Tensor:
    """Last hidden state of every real token, (tokens × hidden), as `MPNetModel` computes it."""
    embeddings = model.embeddings
    hidden = embeddings.word_embeddings(packing.ids) + embeddings.position_embeddings(packing.positions)
    hidden = _dropout(embeddings.dropout, embeddings.LayerNorm(hidden))
    masks = _attention_masks(model, packing, hidden.dtype)
    for layer in model.encoder.layer:
        attention, output = layer.attention, layer.output
        attended = _attention(attention.attn, hidden, packing, masks)
        hidden = attention.LayerNorm(_dropout(attention.dropout, attended) + hidden)
        hidden = output.LayerNorm(_dropout(output.dropout, output.dense(layer.intermediate(hidden))) + hidden)
    return hidden


def _dropout(module: torch.nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """`module`'s dropout (its p, its train/eval state) through parasim's cheaper mask."""
    return dropout(x, module.p, module.training)


def packed_mean_pool(hidden: torch.Tensor, packing: Packing) -> torch.Tensor:
    """Mean of each row's real token states: sentence-transformers' mean pooling without the padding."""
    sums = hidden.new_zeros(packing.lengths.numel(), hidden.shape[-1]).index_add_(0, packing.sequence, hidden)
    return sums / packing.lengths.clamp(min=1).unsqueeze(1).to(hidden.dtype)
