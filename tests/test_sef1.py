"""Batched SE-F1 equals a plain per-pair loop (written here) in value and gradients."""

from __future__ import annotations

import torch

from conftest import PAIRS, pair_batch, tiny
from parasim.data.splitter import split_sentences
from parasim.losses import SEF1MSELoss
from parasim.models.sef1 import paragraph_cosine, sef1_scores


def loop_f1(encoder, text_a: str, text_b: str) -> torch.Tensor:
    """The reference algorithm, one pair at a time, one forward per paragraph."""
    sa, sb = split_sentences(text_a), split_sentences(text_b)
    if not sa or not sb:
        return torch.zeros((), requires_grad=True)
    tok = encoder.tokenizer

    def embed(sentences):
        batch = tok(sentences, padding=True, truncation=True, max_length=384, return_tensors="pt")
        return encoder(batch["input_ids"], batch["attention_mask"])

    sim = embed(sa) @ embed(sb).T
    precision = sim.max(dim=0).values.clamp(min=0).mean()
    recall = sim.max(dim=1).values.clamp(min=0).mean()
    return 2 * precision * recall / (precision + recall + 1e-10)


def test_batched_sef1_matches_loop_in_value_and_gradient() -> None:
    enc = tiny()
    labels = torch.tensor([p[2] for p in PAIRS])
    loop_scores = torch.stack([loop_f1(enc, a, b) for a, b, _ in PAIRS])
    loop_loss = ((loop_scores - labels) ** 2).mean()
    loop_loss.backward()
    loop_grads = {n: p.grad.clone() for n, p in enc.named_parameters() if p.grad is not None}
    enc.zero_grad()

    loss_fn = SEF1MSELoss(enc)
    batch = pair_batch(enc, PAIRS, batch_tokens=64)
    assert len(batch.inputs.packing.shapes) > 1  # the budget forces several length-sorted chunks
    scores = loss_fn.score(batch)
    loss = loss_fn(batch, batch.labels)
    loss.backward()

    torch.testing.assert_close(scores, loop_scores.detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(loss, loop_loss.detach(), atol=1e-6, rtol=0)
    assert loop_grads
    for name, grad in loop_grads.items():
        torch.testing.assert_close(dict(enc.named_parameters())[name].grad, grad, atol=1e-6, rtol=1e-5,
                                   msg=f"gradient of {name}")


def test_empty_paragraph_gives_zero_without_nan() -> None:
    enc = tiny()
    batch = pair_batch(enc, [("", "Something here.", 1.0), ("   ", "", 0.0)])
    loss_fn = SEF1MSELoss(enc)
    scores = loss_fn.score(batch)
    assert scores.tolist() == [0.0, 0.0]
    loss = loss_fn(batch, batch.labels)
    assert loss.item() == 0.5
    loss.backward()  # a graph node: backward works and no gradient is NaN
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters() if p.grad is not None)


def test_sef1_symmetric_and_bounded() -> None:
    emb = torch.nn.functional.normalize(torch.randn(7, 16), dim=-1)
    a = torch.tensor([[0, 1, 2], [3, -1, -1]])
    b = torch.tensor([[3, 4, -1], [5, 6, 0]])
    forward, backward = sef1_scores(emb, a, b), sef1_scores(emb, b, a)
    torch.testing.assert_close(forward, backward)
    assert ((forward >= 0) & (forward <= 1)).all()
    identical = sef1_scores(emb, a, a)
    torch.testing.assert_close(identical, torch.ones(2), atol=1e-6, rtol=0)


def test_encode_in_chunks_matches_one_by_one() -> None:
    enc = tiny()
    sentences = ["short.", "a somewhat longer sentence here.", "x " * 50, "mid length one!"]
    tokens = enc.tokenize(sentences)
    enc.planner.batch_tokens = 40
    chunked = enc.encode_token_lists(tokens)
    with torch.no_grad():
        single = torch.cat([enc(torch.tensor([t]), torch.ones(1, len(t), dtype=torch.long)) for t in tokens])
    torch.testing.assert_close(chunked, single, atol=1e-6, rtol=0)


def test_rounding_never_lifts_scores_above_one() -> None:
    """Unit vectors' self dot products overshoot 1 in float32; SE-F1 and cosine must still be ≤ 1."""
    emb = torch.nn.functional.normalize(torch.randn(400, 768), dim=-1)
    assert ((emb * emb).sum(dim=-1) > 1).any()  # the overshoot this test is about does occur
    rows = torch.arange(400).reshape(200, 2)
    assert (sef1_scores(emb, rows, rows) <= 1).all()
    assert (paragraph_cosine(emb, rows[:, :1], rows[:, :1]) <= 1).all()


def test_paragraph_cosine_of_an_empty_side_is_zero() -> None:
    """Empty paragraphs have no unit (-1): their cosine is 0 like their SE-F1, not 1 for two empty texts."""
    emb = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    a, b = torch.tensor([[0], [-1], [-1]]), torch.tensor([[0], [1], [-1]])
    torch.testing.assert_close(paragraph_cosine(emb, a, b), torch.tensor([1.0, 0.0, 0.0]))
    assert paragraph_cosine(emb, torch.empty(2, 0, dtype=torch.long), b[:2]).tolist() == [0.0, 0.0]
