"""Inference-only embedding of many texts: each distinct text once, in length-sorted token-budget chunks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from parasim.models.batching import chunk_by_budget
from parasim.models.encoder import SentenceEncoder


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def distinct(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct texts in first-seen order, and each input's position among them."""
    table: dict[str, int] = {}
    positions = [table.setdefault(text, len(table)) for text in texts]
    return list(table), positions


@torch.inference_mode()
def embed(encoder: SentenceEncoder, texts: Sequence[str], token_states: bool = False,
          progress: str | None = None) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """Unit-length embeddings of `texts` (input order, on the CPU) and, if asked, each text's token states.

    Token states are the last hidden layer, L2-normalised per token, with special tokens removed
    (what BERTScore matches); they need the architecture's own forward, chunk by chunk. Without them
    the encoder's planned path runs (`SentenceEncoder.encode_token_lists`). `progress` names a tqdm bar
    counting texts (None: no bar).
    """
    token_lists = encoder.tokenize(list(texts)) if texts else []
    if not token_lists:
        return torch.empty(0, encoder.dim), [] if token_states else None
    if not token_states:
        return encoder.encode_token_lists(token_lists, progress).cpu(), None
    device = encoder.device
    planner = encoder.planner
    chunks, rows, _ = chunk_by_budget(token_lists, planner.batch_tokens, planner.pad_id, planner.fill)
    special = torch.tensor(sorted(encoder.tokenizer.all_special_ids), device=device)
    pooled: list[torch.Tensor] = []
    states: list[torch.Tensor] = []
    with tqdm(total=len(token_lists), desc=progress, unit="text", disable=progress is None) as bar:
        for ids, mask in chunks:
            ids, mask = ids.to(device), mask.to(device)
            hidden = encoder.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled.append(F.normalize(encoder.pooling(hidden, mask).float(), p=2, dim=-1))
            keep = mask.bool() & ~torch.isin(ids, special)
            states += [F.normalize(h[k].float(), p=2, dim=-1).cpu() for h, k in zip(hidden, keep, strict=True)]
            bar.update(len(ids))
    return torch.cat(pooled)[rows.to(device)].cpu(), [states[i] for i in rows.tolist()]
