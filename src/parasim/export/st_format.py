"""Write an encoder as a directory that `SentenceTransformer(path)` loads (format in the shared spec).

modules.json names the stock sentence-transformers module types (never our own classes, which
sentence-transformers 6 would only load with trust_remote_code). The directory is staged next to
its target and renamed into place, so a killed export never looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from parasim.models.encoder import SentenceEncoder
from parasim.runs import framework_versions
from parasim.utils.files import replace_dir_atomic

TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def modules(encoder: SentenceEncoder) -> list[dict[str, object]]:
    """modules.json: Transformer → Pooling, then Normalize only when the encoder's pipeline normalises."""
    return [TRANSFORMER, POOLING, *([NORMALIZE] if encoder.pooling.normalize else [])]


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_layout(encoder: SentenceEncoder, out: Path) -> None:
    """Everything but the model card into `out` (an existing, empty directory): the pooling, Normalize, token cap
    and lower-casing the encoder runs with, so `SentenceTransformer(out)` embeds as the encoder does."""
    encoder.transformer.save_pretrained(out, safe_serialization=True)
    encoder.tokenizer.save_pretrained(out)
    _write_json(out / "modules.json", modules(encoder))
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": encoder.max_seq_length,
                                                    "do_lower_case": encoder.do_lower_case})
    (out / "1_Pooling").mkdir()
    _write_json(out / "1_Pooling" / "config.json", encoder.pooling.st_config(encoder.dim))
    if encoder.pooling.normalize:
        (out / "2_Normalize").mkdir()
    _write_json(out / "config_sentence_transformers.json", {
        "__version__": framework_versions(),
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
        "model_type": "SentenceTransformer",
    })


def export_sentence_transformer(encoder: SentenceEncoder, target: str | Path, card: str,
                                extra_files: dict[str, str] | None = None) -> Path:
    """Stage the full export (weights, tokenizer, ST configs, README.md card) and rename it into place."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.staging-"))
    try:
        write_layout(encoder, staged)
        (staged / "README.md").write_text(card, encoding="utf-8")
        for name, text in (extra_files or {}).items():
            (staged / name).write_text(text, encoding="utf-8")
        os.chmod(staged, 0o755)
        return replace_dir_atomic(staged, target)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
