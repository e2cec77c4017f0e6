"""parasim's CPU dropout (parasim.models.kernels) and the training-mode packed path that uses it.

The mask is drawn differently from torch's, so the checks are on its law (rate, scale, seed,
gradient) and on the packed path matching `MPNetModel` in training mode once dropout keeps every unit.
"""

from __future__ import annotations

import torch

from parasim.models.batching import Planner
from parasim.models.encoder import build_tiny
from parasim.models.kernels import dropout, keep_mask
from parasim.weights import model_dir
from test_fast_paths import SENTENCES, assert_same_gradients, embed


def test_drops_at_rate_p_and_scales_the_rest() -> None:
    x = torch.ones(1000, 768)
    y = dropout(x, 0.1, True)
    kept = y != 0
    assert torch.equal(y[kept], torch.full_like(y[kept], 1 / 0.9))
    assert abs(1 - kept.float().mean().item() - 0.1) < 0.005  # 768k draws: the bound is ~15 standard deviations
    assert abs(y.mean().item() - 1.0) < 0.01  # the scale keeps the expectation


def test_every_lane_of_a_draw_drops_at_rate_p() -> None:
    """Four mask entries share one 64-bit draw: each of the four positions must drop at rate p on its own
    (a lane that reads a sign bit or a shorter range would be biased)."""
    mask = keep_mask((200_000, 4), 0.25, torch.float32)
    assert torch.equal(mask.unique(), torch.tensor([0.0, 1 / 0.75]))
    rates = (mask == 0).float().mean(dim=0)
    assert torch.all((rates - 0.25).abs() < 0.005), rates  # 200k draws per lane: ~5 standard deviations
    assert keep_mask((3, 5), 0.1, torch.float64).dtype == torch.float64


def test_is_identity_when_off_and_follows_the_seed() -> None:
    x = torch.randn(64, 32)
    assert dropout(x, 0.1, False) is x and dropout(x, 0.0, True) is x
    torch.manual_seed(3)
    first, second = dropout(x, 0.5, True), dropout(x, 0.5, True)
    torch.manual_seed(3)
    assert torch.equal(dropout(x, 0.5, True), first)
    assert not torch.equal(first, second)


def test_gradient_is_the_mask_times_the_scale() -> None:
    x = torch.randn(200, 50, requires_grad=True)
    y = dropout(x, 0.3, True)
    y.backward(torch.ones_like(y))
    expected = (y.detach() != 0).float() / 0.7
    torch.testing.assert_close(x.grad, expected, atol=0, rtol=1e-6)


def _tiny_training(packed: bool, p: float):
    encoder = build_tiny(model_dir(), seed=1).train()
    encoder.packed = packed
    for module in encoder.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
    return encoder


def test_training_mode_packed_path_equals_mpnet_when_dropout_keeps_everything() -> None:
    """p so small that no unit is dropped: the spelled-out attention and the hidden dropouts of the
    packed path must give `MPNetModel`'s training-mode outputs and gradients."""
    results = []
    for packed in (True, False):
        encoder = _tiny_training(packed, 1e-12)
        out = embed(encoder)
        out.pow(2).sum(dim=0).mul(torch.arange(out.shape[1])).sum().backward()
        results.append((out.detach(), {n: p.grad for n, p in encoder.named_parameters() if p.grad is not None}))
    (out_packed, grads_packed), (out_plain, grads_plain) = results
    inputs, _ = Planner(1, min_fill=0.95, packed=True)(build_tiny(model_dir()).tokenize(SENTENCES))
    assert len(inputs.packing.shapes) > 1 and any(m is not None for m in inputs.packing.masks)  # some padded
    torch.testing.assert_close(out_packed, out_plain, atol=1e-5, rtol=1e-5)
    assert_same_gradients(grads_packed, grads_plain)


def test_training_mode_packed_path_drops_units() -> None:
    encoder = _tiny_training(True, 0.5)
    torch.manual_seed(0)
    first = embed(encoder)
    torch.manual_seed(0)
    assert torch.equal(embed(encoder), first)  # seeded runs repeat
    assert not torch.allclose(embed(encoder), first)
