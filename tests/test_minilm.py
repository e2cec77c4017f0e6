"""A second real backbone: all-MiniLM-L6-v2 (BERT, mean pooling, 256 tokens) and any sentence-transformers directory
(`model=st_dir`): parity with sentence-transformers, exports that round-trip, CLS pooling without Normalize."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import compose_train, needs_minilm
from parasim.errors import ParasimError
from parasim.export.st_format import export_sentence_transformer
from parasim.models.encoder import load_pretrained
from parasim.models.st_config import read_layout
from parasim.weights import MINILM, model_dir

SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "Dense fogs wrapped the mountains that shut in the little hamlet, but overhead the stars were shining.",
    " ".join(f"token{i}" for i in range(400)),  # far past the 256-token cap: truncated on both sides
    "",
    "Emoji 😀 and accents: café, naïve. UPPER and lower Case.",
    "Stocks fell 3.5% on Tuesday after the U.S. Federal Reserve raised rates.",
]
CARD = "---\nlibrary_name: sentence-transformers\n---\n"


def minilm() -> Path:
    return model_dir(MINILM.name)


def reference(path: Path) -> torch.Tensor:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    return model, torch.as_tensor(model.encode(SENTENCES, convert_to_numpy=True, show_progress_bar=False))


@pytest.fixture(scope="module")
def encoder():
    return load_pretrained(minilm()).eval()


@needs_minilm
def test_minilm_matches_sentence_transformers(encoder) -> None:
    assert (encoder.max_seq_length, encoder.dim, encoder.packed) == (256, 384, False)
    assert encoder.transformer.config._attn_implementation == "sdpa"
    assert len(encoder.tokenize(SENTENCES[3:4])[0]) == 256
    _, expected = reference(minilm())
    ours = encoder.encode(SENTENCES)
    cosine = torch.nn.functional.cosine_similarity(ours, expected)
    assert (cosine >= 0.99999).all(), cosine
    assert torch.allclose(ours.norm(dim=-1), torch.ones(len(SENTENCES)), atol=1e-5)


@needs_minilm
def test_minilm_export_loads_in_sentence_transformers_with_the_same_embeddings(encoder, tmp_path: Path) -> None:
    target = export_sentence_transformer(encoder, tmp_path / "export", card=CARD)
    loaded, got = reference(target)
    assert loaded.max_seq_length == 256
    assert [type(m).__name__ for m in loaded] == ["Transformer", "Pooling", "Normalize"]
    torch.testing.assert_close(got, encoder.encode(SENTENCES), atol=1e-5, rtol=0)


def st_variant(tmp_path: Path, pooling: dict, normalize: bool) -> Path:
    """all-MiniLM-L6-v2's files (weights linked, not copied) with another pooling config and module list."""
    folder = tmp_path / "variant"
    shutil.copytree(minilm(), folder, ignore=shutil.ignore_patterns("model.safetensors", "2_Normalize"))
    (folder / "model.safetensors").symlink_to(minilm() / "model.safetensors")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps(modules if normalize else modules[:2]))
    return folder


@needs_minilm
def test_cls_pooling_without_normalize_matches_and_round_trips(tmp_path: Path) -> None:
    """sentence-transformers 6's `pooling_mode` layout; the export writes what the encoder ran (legacy keys)."""
    source = st_variant(tmp_path, {"embedding_dimension": 384, "pooling_mode": "cls", "include_prompt": True},
                        normalize=False)
    encoder = load_pretrained(source).eval()
    assert (encoder.pooling.mode, encoder.pooling.normalize) == ("cls", False)
    _, expected = reference(source)
    ours = encoder.encode(SENTENCES)
    assert not torch.allclose(ours.norm(dim=-1), torch.ones(len(SENTENCES)), atol=1e-2)  # really unnormalised
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-5)
    assert torch.allclose(encoder.encode(SENTENCES, unit=True).norm(dim=-1), torch.ones(len(SENTENCES)))

    target = export_sentence_transformer(encoder, tmp_path / "export", card=CARD)
    pooling = json.loads((target / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_cls_token"] and not pooling["pooling_mode_mean_tokens"]
    assert not (target / "2_Normalize").exists()
    loaded, got = reference(target)
    assert [type(m).__name__ for m in loaded] == ["Transformer", "Pooling"]
    torch.testing.assert_close(got, ours, atol=1e-4, rtol=1e-5)
    assert load_pretrained(target).pooling == encoder.pooling


@needs_minilm
def test_a_normalize_folder_named_but_missing_is_read_from_modules_json(tmp_path: Path) -> None:
    """The all-MiniLM-L6-v2 package's modules.json names 2_Normalize, which its zip lacks."""
    source = st_variant(tmp_path, json.loads((minilm() / "1_Pooling" / "config.json").read_text()), normalize=True)
    assert not (source / "2_Normalize").exists()
    layout = read_layout(source)
    assert (layout.pooling.mode, layout.pooling.normalize, layout.max_seq_length) == ("mean", True, 256)


def test_unsupported_modules_and_pooling_are_refused_by_name(tmp_path: Path) -> None:
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ParasimError, match=r"cannot run \['Dense'\]"):
        read_layout(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps(modules[:2]))
    with pytest.raises(ParasimError, match=r"pooling \['max'\] is not supported"):
        read_layout(tmp_path)


@needs_minilm
def test_minilm_config_trains_two_steps_and_exports_its_own_layout(tmp_path: Path) -> None:
    from parasim.train import train

    cfg = compose_train(["model=minilm_l6", "trainer.max_steps=2", "data.limit=4", "data.batch_size=2", "test=false"],
                        tmp_path)
    assert cfg.data.max_seq_length == 256
    metrics = train(cfg)
    assert 0.0 <= metrics["val/mse"] <= 1.0
    export = tmp_path / "export"
    assert json.loads((export / "sentence_bert_config.json").read_text())["max_seq_length"] == 256
    assert json.loads((export / "config.json").read_text())["model_type"] == "bert"
    card = (export / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert "'architecture': 'BertModel'" in card and "(2): Normalize()" in card


def test_st_dir_config_takes_the_token_cap_from_the_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    cfg = compose_train(["model=st_dir", f"model.path={tmp_path}"], tmp_path / "run")
    assert (cfg.model.max_seq_length, cfg.data.max_seq_length) == (128, 128)
    with pytest.raises(Exception, match="model.path=DIR"):
        _ = compose_train(["model=st_dir"], tmp_path / "run").data.max_seq_length
