"""Packed MPNet forward: the token-wise layers see only real tokens, attention runs per length-sorted chunk.

Why: on a CPU the linear layers (≈ 24·hidden² FLOPs per token) dominate an MPNet forward, and
attention costs ≈ length/(6·hidden) of that (≈ 1 % for 33-token sentences at hidden 768). Padding
therefore costs almost linearly, and one padded batch of sentences of mixed length wastes most
of its work. Here every chunk's real tokens are concatenated into one (tokens × hidden) matrix for
the embeddings, Q/K/V, output, feed-forward and LayerNorm layers (one large GEMM per layer for the
whole batch), and only attention goes back to the chunks' padded (rows × width) layout, through
`scaled_dot_product_attention` with MPNet's relative-position bias as a float mask.

It uses the `MPNetModel`'s own modules and parameters, so gradients, optimisers, checkpoints and
exports see the same model; outputs equal `MPNetModel` within float rounding (tests check it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import MPNetModel

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
    spans: list[tuple[int, int]]  # per chunk [start, end) in the flat token matrix


def pack(chunks: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Packing:
    """Flatten padded (ids, attention_mask) chunks into real tokens only (right padding assumed)."""
    ids, positions, lengths, masks, shapes, spans = [], [], [], [], [], []
    start = 0
    for chunk_ids, chunk_mask in chunks:
        mask = chunk_mask.bool()
        ids.append(chunk_ids[mask])
        positions.append((mask.cumsum(dim=1) - 1 + POSITION_OFFSET)[mask])
        lengths.append(mask.sum(dim=1))
        masks.append(None if bool(mask.all()) else mask)
        shapes.append((int(mask.shape[0]), int(mask.shape[1])))
        spans.append((start, start + int(ids[-1].numel())))
        start = spans[-1][1]
    lengths = torch.cat(lengths)
    sequence = torch.repeat_interleave(torch.arange(lengths.numel(), device=lengths.device), lengths)
    return Packing(torch.cat(ids), torch.cat(positions), sequence, lengths, masks, shapes, spans)


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


def _attention(attn, hidden: torch.Tensor, packing: Packing, masks: list[torch.Tensor], dropout: float) -> torch.Tensor:
    """Self-attention of MPNet's `MPNetSelfAttention` on packed tokens, chunk by chunk."""
    heads, size = attn.num_attention_heads, attn.attention_head_size
    qkv = torch.cat([attn.q(hidden), attn.k(hidden), attn.v(hidden)], dim=-1)
    outputs = []
    for mask, (rows, width), (start, end), attn_mask in zip(packing.masks, packing.shapes, packing.spans, masks,
                                                            strict=True):
        if mask is None:
            padded = qkv[start:end].view(rows, width, -1)
        else:
            padded = qkv.new_zeros(rows, width, qkv.shape[-1])
            padded[mask] = qkv[start:end]
        q, k, v = padded.view(rows, width, 3, heads, size).permute(2, 0, 3, 1, 4)
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask.to(q.dtype), dropout_p=dropout)
        context = context.transpose(1, 2).reshape(rows, width, heads * size)
        outputs.append(context.reshape(rows * width, -1) if mask is None else context[mask])
    return attn.o(torch.cat(outputs))


def packed_hidden(model: MPNetModel, packing: Packing) -> torch.Tensor:
    """Last hidden state of every real token, (tokens × hidden), as `MPNetModel` computes it."""
    embeddings = model.embeddings
    hidden = embeddings.word_embeddings(packing.ids) + embeddings.position_embeddings(packing.positions)
    hidden = embeddings.dropout(embeddings.LayerNorm(hidden))
    masks = _attention_masks(model, packing, hidden.dtype)
    dropout = model.config.attention_probs_dropout_prob if model.training else 0.0
    for layer in model.encoder.layer:
        attended = _attention(layer.attention.attn, hidden, packing, masks, dropout)
        hidden = layer.attention.LayerNorm(layer.attention.dropout(attended) + hidden)
        hidden = layer.output(layer.intermediate(hidden), hidden)
    return hidden


def packed_mean_pool(hidden: torch.Tensor, packing: Packing) -> torch.Tensor:
    """Mean of each row's real token states: sentence-transformers' mean pooling without the padding."""
    sums = hidden.new_zeros(packing.lengths.numel(), hidden.shape[-1]).index_add_(0, packing.sequence, hidden)
    return sums / packing.lengths.clamp(min=1).unsqueeze(1).to(hidden.dtype)
