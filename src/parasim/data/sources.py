"""Data sources: each returns {train, val, test: [PairRecord]} and is one `conf/data/` option.

A data config's `source:` lists every option of its source (`data.source.root=DIR`, `data.source.path=FILE`),
so Hydra refuses a misspelt one before anything runs, and the datamodule calls the source with no arguments.
Random negatives are built *within* each split from that split's positives, so no text of a validation or
test pair appears in a training negative; the reference built them before splitting, which leaks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

from parasim.data.readers import random_negatives, read_alecs, read_pairs_file, read_webis
from parasim.data.records import PairRecord
from parasim.data.splits import FRACTIONS, KEYS, SPLITS, proportional_counts, split_records, text_a_key
from parasim.errors import ParasimError

Splits = dict[str, list[PairRecord]]
TOP_UPS = 4  # redraw rounds for repeated random negatives; a tiny corpus may end a few short
COLUMNS = {"text_a": "paragraphs1", "text_b": "paragraphs2", "label": "label"}


def pairs(path: str | None = None, train_path: str | None = None, val_path: str | None = None,
          test_path: str | None = None, columns: Mapping[str, str] | None = None, subset: str = "pairs",
          split_by: str = "pair", split_seed: int = 0, fractions: Sequence[float] = FRACTIONS) -> Splits:
    """One pair file split 70/15/15 (`path`), or three pre-split files (`train_path`, `val_path`, `test_path`).

    The format comes from each file's extension (CSV, TSV, JSONL, Parquet). `split_by: text_a` keeps
    every pair sharing a first text in one split (use it when one text has several partners).
    """
    unknown = set(columns or {}) - set(COLUMNS)
    if unknown:
        raise ParasimError(f"data.source.columns: unknown key(s) {sorted(unknown)}; the keys are {list(COLUMNS)}")
    names = {**COLUMNS, **(columns or {})}
    if split_by not in KEYS:
        raise ParasimError(f"data.source.split_by must be one of {list(KEYS)}, got {split_by!r}")
    presplit = {"train": train_path, "val": val_path, "test": test_path}
    if path is not None and any(presplit.values()):
        raise ParasimError("give either data.source.path (one file, split 70/15/15) or "
                           "data.source.train_path/val_path/test_path")
    if path is None:
        missing = [f"data.source.{name}_path" for name, value in presplit.items() if value is None]
        if missing:
            raise ParasimError(f"data=pairs needs data.source.path=FILE, or all three pre-split files; missing: "
                               f"{', '.join(missing)}")
        return {name: read_pairs_file(file, subset=subset, **names) for name, file in presplit.items()}
    return split_records(read_pairs_file(path, subset=subset, **names), split_seed, fractions, KEYS[split_by])


def webis(root: str | None = None, keep_negatives: bool = False, negatives: int | None = None, negatives_seed: int = 0,
          split_seed: int = 0, fractions: Sequence[float] = FRACTIONS) -> Splits:
    """Webis-CPC-11: "Yes" pairs (webis_pos), random-pair negatives (webis_random) and, with
    `keep_negatives`, the corpus's "No" pairs (webis_neg).

    `negatives`: total random negatives over all splits (null = as many as positives, as the seed's w−).
    Pairs are split by their original text.
    """
    _need_root(root, "webis", "a Webis-CPC-11 folder")
    records = read_webis(root, keep_negatives=keep_negatives)
    split = split_records(records, split_seed, fractions, text_a_key)
    return _add_negatives(split, negatives, negatives_seed, positive="webis_pos", subset="webis_random")


def alecs(root: str | None = None, negatives: int | None = None, negatives_seed: int = 0, split_seed: int = 0,
          fractions: Sequence[float] = FRACTIONS) -> Splits:
    """ALECS: each original with each machine paraphrase (alecs_pos) and random negatives (alecs_random).

    Pairs are split by their original, so the paraphrases of one original never straddle splits.
    """
    _need_root(root, "alecs", "an ALECS folder (og/ and mg/)")
    split = split_records(read_alecs(root), split_seed, fractions, text_a_key)
    return _add_negatives(split, negatives, negatives_seed, positive="alecs_pos", subset="alecs_random")


def mixture(parts: Mapping[str, Callable[[], Splits]]) -> Splits:
    """Concatenate several sources' splits; each split keeps every part's subset names.

    Each part is a source with its options bound (`data.source.parts.webis.root=DIR`). Two parts that
    produce the same subset name are refused, since their pairs could not be told apart in metrics.
    """
    out: Splits = {name: [] for name in SPLITS}
    owner_of: dict[str, str] = {}
    for name, source in parts.items():
        for split, records in source().items():
            for subset in {r.subset for r in records}:
                if owner_of.setdefault(subset, name) != name:
                    raise ParasimError(f"mixture parts {owner_of[subset]!r} and {name!r} both produce subset "
                                       f"{subset!r}; give one of them another `subset` name")
            out[split].extend(records)
    return out


def _need_root(root: str | None, name: str, what: str) -> None:
    if root is None:
        raise ParasimError(f"data={name} needs {what}: data.source.root=DIR "
                           f"(data.source.parts.{name}.root=DIR in a mixture)")


def _add_negatives(split: Splits, count: int | None, seed: int, positive: str, subset: str) -> Splits:
    """Random negatives per split, from that split's positives; a total `count` is shared by positive share."""
    positives = {name: [r for r in records if r.subset == positive] for name, records in split.items()}
    if count is None:
        counts = {name: len(p) for name, p in positives.items()}
    elif count < 0:
        raise ParasimError(f"data.source.negatives must be >= 0 or null, got {count}")
    else:
        counts = proportional_counts(count, {name: len(p) for name, p in positives.items()})
    out: Splits = {}
    for offset, name in enumerate(SPLITS):
        wanted = counts[name]
        if wanted and len({r.text_a for r in positives[name]}) < 2:
            warnings.warn(f"{subset}: no random negatives for the {name} split (it has fewer than two originals)",
                          stacklevel=3)
            wanted = 0
        out[name] = split[name] + _distinct_negatives(positives[name], wanted, seed + offset * TOP_UPS, subset)
    return out


def _distinct_negatives(positives: list[PairRecord], count: int, seed: int, subset: str) -> list[PairRecord]:
    """`random_negatives` draws partners with replacement, so a pair can come twice; redraw the repeats."""
    unique: dict[PairRecord, None] = {}
    for attempt in range(TOP_UPS):
        if len(unique) >= count:
            break
        unique.update(dict.fromkeys(random_negatives(positives, count - len(unique), seed + attempt, subset)))
    return list(unique)

