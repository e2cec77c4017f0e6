"""The optimised paths give the values of the simple ones: packed MPNet forward, fill-bounded chunks, chunked encode.

Behaviour only; the speed of these paths is measured by benchmarks/run.py, never asserted here.
"""

from __future__ import annotations

import pytest
import torch

from conftest import needs_weights
from parasim.data.collate import PairCollator, chunk_by_budget, encode_chunks, encode_token_lists, group_by_budget
from parasim.data.splitter import split_sentences
from parasim.losses import SEF1MSELoss
from parasim.models.encoder import build_tiny, load_pretrained
from parasim.weights import model_dir

SENTENCES = [
    "The cat sat.",
    "Stocks fell sharply today after the central bank raised its rates for the third time this year.",
    "A quick brown fox jumps over the lazy dog.",
    "Yes!",
    "The committee will meet again next week to discuss the budget.",
    "The committee meets next week to talk about the budget.",
    "Rain is coming, so bring a coat and an umbrella when you leave the house tonight.",
]
PAIRS = [
    ("The cat sat. It purred loudly! Then it slept.", "A cat was sitting. Then it slept.", 1.0),
    ("Stocks fell sharply today.", "The weather is lovely? Rain is coming.\nBring a coat.", 0.0),
    ("", "Empty on the other side.", 0.0),
    ("Wait... what? No way.", "No way. Wait... what?", 1.0),
]


def tiny(packed: bool = True):
    encoder = build_tiny(model_dir(), seed=1).eval()
    encoder.packed = packed
    return encoder


def pair_batch(encoder, min_fill: float, budget: int = 8192):
    units: dict[str, int] = {}
    items = []
    for a, b, label in PAIRS:
        items.append(([units.setdefault(s, len(units)) for s in split_sentences(a)],
                      [units.setdefault(s, len(units)) for s in split_sentences(b)], label, 0))
    return PairCollator(encoder.tokenize(list(units)), encoder.tokenizer.pad_token_id, budget, min_fill)(items)


@pytest.mark.parametrize("min_fill", [0.0, 0.95, 1.0])
def test_packed_forward_equals_mpnet_forward(min_fill: float) -> None:
    encoder = tiny()
    chunks, rows, _ = chunk_by_budget(encoder.tokenize(SENTENCES), 8192, encoder.tokenizer.pad_token_id, min_fill)
    packed = encode_chunks(encoder, chunks)
    encoder.packed = False
    plain = encode_chunks(encoder, chunks)
    assert packed.shape == (len(SENTENCES), encoder.dim)
    torch.testing.assert_close(packed, plain, atol=1e-5, rtol=1e-5)


def test_packed_loss_and_gradients_equal_plain_with_dropout_off() -> None:
    results = []
    for packed in (True, False):
        encoder = tiny(packed)
        batch = pair_batch(encoder, min_fill=0.95)
        loss = SEF1MSELoss(encoder)(batch, batch.labels)
        loss.backward()
        grads = {n: p.grad for n, p in encoder.named_parameters() if p.grad is not None}
        results.append((loss.detach(), grads))
    (loss_packed, grads_packed), (loss_plain, grads_plain) = results
    assert abs(float(loss_packed) - float(loss_plain)) <= 1e-6
    assert_same_gradients(grads_packed, grads_plain)


def assert_same_gradients(ours: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    """Same parameters get gradients, each within 1e-4 of the largest reference gradient entry."""
    assert ours.keys() == reference.keys()
    scale = max(float(g.abs().max()) for g in reference.values())
    for name, grad in reference.items():
        torch.testing.assert_close(ours[name], grad, atol=1e-4 * scale, rtol=0, msg=name)


def test_fill_bound_changes_chunks_not_loss() -> None:
    encoder = tiny()
    one_chunk, filled = pair_batch(encoder, min_fill=0.0), pair_batch(encoder, min_fill=0.95)
    assert len(filled.chunks) > len(one_chunk.chunks)
    assert filled.real_tokens == one_chunk.real_tokens
    assert filled.real_tokens / filled.padded_tokens > one_chunk.real_tokens / one_chunk.padded_tokens
    loss = SEF1MSELoss(encoder)
    torch.testing.assert_close(loss(filled, filled.labels), loss(one_chunk, one_chunk.labels), atol=1e-6, rtol=0)


@pytest.mark.parametrize("budget", [16, 64, 8192])
def test_chunks_respect_budget_fill_and_rows(budget: int) -> None:
    token_lists = [list(range(2, 2 + n)) for n in (9, 3, 30, 10, 10, 4, 28, 9, 2)]
    chunks, rows, padded = chunk_by_budget(token_lists, budget, pad_id=1, min_fill=0.9)
    flat = [row for ids, _ in chunks for row in ids.tolist()]
    for i, tokens in enumerate(token_lists):
        assert flat[int(rows[i])][: len(tokens)] == tokens
    for ids, mask in chunks:
        assert ids.numel() <= budget or ids.shape[0] == 1
        assert ids.shape[0] == 1 or mask.sum() / mask.numel() >= 0.9
    assert padded == sum(ids.numel() for ids, _ in chunks)


def test_chunked_encode_equals_one_by_one() -> None:
    encoder = tiny()
    token_lists = encoder.tokenize(SENTENCES)
    chunked = encode_token_lists(encoder, token_lists, batch_tokens=64)
    encoder.packed = False
    singles = torch.cat([encoder(torch.tensor([t]), torch.ones(1, len(t), dtype=torch.long)) for t in token_lists])
    torch.testing.assert_close(chunked, singles, atol=1e-5, rtol=1e-5)


def test_packed_forward_applies_dropout_in_training() -> None:
    encoder = tiny()
    chunks, _, _ = chunk_by_budget(encoder.tokenize(SENTENCES), 8192, encoder.tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.equal(encode_chunks(encoder, chunks), encode_chunks(encoder, chunks))
        encoder.train()
        assert not torch.allclose(encode_chunks(encoder, chunks), encode_chunks(encoder, chunks))


def test_packed_forward_runs_under_bf16_autocast_close_to_fp32() -> None:
    encoder = tiny()
    chunks, _, _ = chunk_by_budget(encoder.tokenize(SENTENCES), 8192, encoder.tokenizer.pad_token_id)
    with torch.no_grad():
        fp32 = encode_chunks(encoder, chunks)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = encode_chunks(encoder, chunks)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16).all()
    assert float((fp32 * bf16).sum(dim=-1).min()) > 0.99


@needs_weights
def test_packed_real_model_matches_sentence_transformers() -> None:
    """all-mpnet-base-v2 through the packed path embeds as sentence-transformers' own encode does."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    encoder = load_pretrained(model_dir()).eval()
    with torch.no_grad():
        ours = encoder.encode(SENTENCES)
    reference = sentence_transformers.SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    theirs = torch.as_tensor(reference.encode(SENTENCES, show_progress_bar=False))
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_grouped_chunks_stay_within_budget_and_keep_order() -> None:
    chunks, _, _ = chunk_by_budget([list(range(n)) for n in (40, 30, 30, 12, 9, 5, 5, 3)], 64, pad_id=1)
    groups = group_by_budget(chunks, 64)
    assert [c for g in groups for c in g] == chunks
    assert all(sum(ids.numel() for ids, _ in g) <= 64 or len(g) == 1 for g in groups)
