"""Behaviour that depends on the real all-mpnet-base-v2 weights: parity with sentence-transformers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import needs_weights
from parasim.export.st_format import export_sentence_transformer
from parasim.models.encoder import load_pretrained
from parasim.weights import model_dir

SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "Dense fogs wrapped the mountains that shut in the little hamlet, but overhead the stars were shining.",
    "word " * 500,  # longer than the 384-token cap: truncated on both sides
    "",
    "Emoji 😀 and accents: café, naïve.",
]

pytestmark = needs_weights


@pytest.fixture(scope="module")
def encoder():
    return load_pretrained(model_dir()).eval()


def test_encoder_matches_sentence_transformers(encoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir()), device="cpu")
    expected = torch.as_tensor(reference.encode(SENTENCES, convert_to_numpy=True))
    ours = encoder.encode(SENTENCES)
    cosine = torch.nn.functional.cosine_similarity(ours, expected)
    assert (cosine >= 0.99999).all(), cosine
    assert torch.allclose(ours.norm(dim=-1), torch.ones(len(SENTENCES)), atol=1e-5)


def test_export_loads_in_sentence_transformers(encoder, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    card = "---\nlibrary_name: sentence-transformers\n---\n"
    target = export_sentence_transformer(encoder, tmp_path / "export", card=card)
    loaded = SentenceTransformer(str(target), device="cpu")
    assert loaded.max_seq_length == 384
    assert loaded.similarity_fn_name == "cosine"
    assert any(type(m).__name__ == "Normalize" for m in loaded)  # modules.json kept Normalize
    got = torch.as_tensor(loaded.encode(SENTENCES, convert_to_numpy=True))
    torch.testing.assert_close(got, encoder.encode(SENTENCES), atol=1e-5, rtol=0)
