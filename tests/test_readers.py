"""Readers: every corpus layout gives the right PairRecords, and bad input fails with file + line."""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from parasim.corpora import corpus_path
from parasim.data.readers import (
    random_negatives,
    read_alecs,
    read_mrpc,
    read_pairs_file,
    read_paws,
    read_sts,
    read_text,
    read_webis,
)
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------- Webis-CPC-11


def _webis_pair(
    root: Path, n: int, verdict: str | None, original: bool = True, paraphrase: bool = True
) -> None:
    """Write one Webis triple; verdict None leaves the `Paraphrase:` line out of the metadata."""
    lines = [f"Original: doc{n}", "Original-Author: someone", "Task-ID: 7"]
    if verdict is not None:
        lines.append(f"Paraphrase: {verdict}")
    lines.append("Time: 42")
    (root / f"{n}-metadata.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if original:
        (root / f"{n}-original.txt").write_text(f"  Original {n}. Second sentence.\n", encoding="utf-8")
    if paraphrase:
        (root / f"{n}-paraphrase.txt").write_text(f"Paraphrase {n}.\r\n", encoding="utf-8")


def test_webis_keeps_yes_pairs_in_numeric_order(tmp_path: Path) -> None:
    for n, verdict in [(10, "Yes"), (2, "Yes"), (3, "No"), (1, "Yes")]:
        _webis_pair(tmp_path, n, verdict)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = read_webis(tmp_path)
    assert records == [
        PairRecord(f"Original {n}. Second sentence.", f"Paraphrase {n}.", 1.0, "webis_pos")
        for n in (1, 2, 10)
    ]


def test_webis_keep_negatives_adds_no_pairs_with_label_zero(tmp_path: Path) -> None:
    for n, verdict in [(1, "Yes"), (2, "No"), (3, "yes")]:
        _webis_pair(tmp_path, n, verdict)
    records = read_webis(tmp_path, keep_negatives=True)
    assert [(r.text_b, r.label, r.subset) for r in records] == [
        ("Paraphrase 1.", 1.0, "webis_pos"),
        ("Paraphrase 2.", 0.0, "webis_neg"),
        ("Paraphrase 3.", 1.0, "webis_pos"),
    ]


def test_webis_skips_incomplete_pairs_with_one_counting_warning(tmp_path: Path) -> None:
    _webis_pair(tmp_path, 1, "Yes")
    _webis_pair(tmp_path, 2, "Yes", paraphrase=False)
    _webis_pair(tmp_path, 3, None)
    _webis_pair(tmp_path, 4, "No", original=False)
    _webis_pair(tmp_path, 5, "Yes")
    with pytest.warns(UserWarning) as caught:
        records = read_webis(tmp_path, keep_negatives=True)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "skipped 3 of 5" in message
    assert "2 (no 2-paraphrase.txt)" in message
    assert "3 (no 'Paraphrase: Yes/No' line)" in message
    assert "4 (no 4-original.txt)" in message
    assert [r.text_b for r in records] == ["Paraphrase 1.", "Paraphrase 5."]


def test_webis_missing_or_empty_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ParasimError, match="not found"):
        read_webis(tmp_path / "nowhere")
    (tmp_path / "1-original.txt").write_text("text", encoding="utf-8")
    with pytest.raises(ParasimError, match="no N-metadata.txt"):
        read_webis(tmp_path)


# ---------------------------------------------------------------- ALECS


def test_alecs_pairs_each_original_with_each_paraphrase(tmp_path: Path) -> None:
    og, mg = tmp_path / "og", tmp_path / "mg"
    og.mkdir()
    mg.mkdir()
    paraphrase_counts = {"alpha": 4, "beta": 2, "gamma10": 3}
    for name, count in paraphrase_counts.items():
        (og / f"{name}.txt").write_text(f"Original {name}.\n", encoding="utf-8")
        for k in range(count):
            (mg / f"{name}0{k}.txt").write_text(f"Paraphrase {name} {k}.", encoding="utf-8")
    (mg / "orphan00.txt").write_text("No original for me.", encoding="utf-8")

    with pytest.warns(UserWarning) as caught:
        records = read_alecs(tmp_path)
    assert len(caught) == 1
    assert "skipped 1 paraphrase files" in str(caught[0].message)
    assert "orphan00.txt (no og/orphan.txt)" in str(caught[0].message)
    assert len(records) == 9
    assert records[:5] == [
        *(PairRecord("Original alpha.", f"Paraphrase alpha {k}.", 1.0, "alecs_pos") for k in range(4)),
        PairRecord("Original beta.", "Paraphrase beta 0.", 1.0, "alecs_pos"),
    ]
    assert [r.text_a for r in records[6:]] == ["Original gamma10."] * 3


def test_alecs_missing_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "og").mkdir()
    with pytest.raises(ParasimError, match="mg"):
        read_alecs(tmp_path)


# ---------------------------------------------------------------- random negatives


def _positives() -> list[PairRecord]:
    """Six originals with three paraphrases each; originals 0 and 1 share one paraphrase text."""
    pairs = [PairRecord(f"orig {i}", f"para {i}-{k}", 1.0, "pos") for i in range(6) for k in range(3)]
    pairs.append(PairRecord("orig 1", "para 0-0", 1.0, "pos"))
    return pairs


def test_random_negatives_never_pair_a_text_with_its_paraphrases() -> None:
    positives = _positives()
    known = {(p.text_a, p.text_b) for p in positives}
    negatives = random_negatives(positives, count=len(positives), seed=7, subset="neg")
    assert len(negatives) == len(positives)
    for negative in negatives:
        assert (negative.text_a, negative.text_b) not in known
        assert negative.text_b.split("-")[0].split()[1] != negative.text_a.split()[1]
        assert negative.label == 0.0
        assert negative.subset == "neg"
    assert {n.text_a for n in negatives} == {p.text_a for p in positives}


def test_random_negatives_are_deterministic_per_seed_and_honour_count() -> None:
    positives = _positives()
    first = random_negatives(positives, count=40, seed=3, subset="neg")
    assert len(first) == 40
    assert first == random_negatives(positives, count=40, seed=3, subset="neg")
    assert first != random_negatives(positives, count=40, seed=4, subset="neg")
    assert random_negatives(positives, count=0, seed=3, subset="neg") == []


def test_random_negatives_never_pair_a_text_with_itself() -> None:
    positives = [PairRecord("x", "y", 1.0), PairRecord("y", "z", 1.0)]
    negatives = random_negatives(positives, count=3, seed=1, subset="neg")
    assert negatives == [PairRecord("x", "z", 0.0, "neg")] * 3


def test_random_negatives_without_a_valid_partner_is_an_error() -> None:
    positives = [PairRecord("same", f"para {k}", 1.0) for k in range(4)]
    with pytest.raises(ParasimError, match="distinct originals"):
        random_negatives(positives, count=4, seed=0, subset="neg")


# ---------------------------------------------------------------- tabular files

ROWS = [
    ("Un café, s'il vous plaît.", 'She said "yes".\nThen left.', 1.0),
    ("First.", "   ", 0.25),
]


def _write_table(path: Path, columns: tuple[str, str, str], rows: list[tuple]) -> None:
    """Write rows in the format the extension names, with the given column names."""
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t" if suffix == ".tsv" else ",")
            writer.writerow(columns)
            writer.writerows(rows)
    elif suffix == ".jsonl":
        lines = [json.dumps(dict(zip(columns, row, strict=False))) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        pd.DataFrame(rows, columns=list(columns)).to_parquet(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_pairs_file_round_trip_with_default_columns(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"mine{suffix}"
    _write_table(path, ("paragraphs1", "paragraphs2", "label"), ROWS)
    assert read_pairs_file(path) == [PairRecord(a, b, label, "mine") for a, b, label in ROWS]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_pairs_file_round_trip_with_custom_columns(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"other{suffix}"
    _write_table(path, ("src", "tgt", "score"), ROWS)
    records = read_pairs_file(path, text_a="src", text_b="tgt", label="score", subset="custom")
    assert records == [PairRecord(a, b, label, "custom") for a, b, label in ROWS]


def test_cp1252_file_falls_back_with_a_warning_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes("paragraphs1,paragraphs2,label\r\ncafé au lait,naïve – yes,1\r\n".encode("cp1252"))
    with pytest.warns(UserWarning, match=re.escape(str(path))):
        records = read_pairs_file(path)
    assert records == [PairRecord("café au lait", "naïve – yes", 1.0, "legacy")]


def test_read_text_strips_bom_and_normalises_newlines(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffline one\r\nline two\rend".encode())
    assert read_text(path) == "line one\nline two\nend"


@pytest.mark.parametrize("content", ["", "\n\n", "paragraphs1,paragraphs2,label\n"])
def test_empty_or_header_only_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ParasimError, match=r"empty\.csv.*no pairs|empty\.csv.*empty"):
        read_pairs_file(path)


def test_empty_jsonl_and_parquet_are_errors(tmp_path: Path) -> None:
    jsonl = tmp_path / "none.jsonl"
    jsonl.write_text("\n", encoding="utf-8")
    parquet = tmp_path / "none.parquet"
    pd.DataFrame({"paragraphs1": [], "paragraphs2": [], "label": []}).to_parquet(parquet)
    for path in (jsonl, parquet):
        with pytest.raises(ParasimError, match="no pairs"):
            read_pairs_file(path)


def test_missing_column_lists_the_available_ones(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    _write_table(path, ("text", "paragraphs2", "label"), ROWS)
    with pytest.raises(ParasimError) as caught:
        read_pairs_file(path)
    message = str(caught.value)
    assert "cols.csv" in message
    assert "'paragraphs1'" in message
    assert "text_a" in message
    assert "'text', 'paragraphs2', 'label'" in message


def test_unsupported_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "pairs.xlsx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ParasimError, match=r"\.xlsx.*\.csv, \.tsv, \.jsonl, \.json, \.parquet"):
        read_pairs_file(path)


BAD_LABELS = [
    ("2", "outside"),
    ("-1", "outside"),
    ("", "missing"),
    ("nan", "missing"),
    ("yes", "not a number"),
]


@pytest.mark.parametrize(("value", "problem"), BAD_LABELS)
def test_bad_csv_label_names_file_and_line(tmp_path: Path, value: str, problem: str) -> None:
    path = tmp_path / "labels.csv"
    # line 1 header, lines 2-4 a pair whose quoted text spans three lines, line 5 the bad pair
    path.write_text(f'paragraphs1,paragraphs2,label\n"one\ntwo\nthree",b,1\nc,d,{value}\n', encoding="utf-8")
    with pytest.raises(ParasimError, match=rf"labels\.csv, line 5: .*{problem}"):
        read_pairs_file(path)


@pytest.mark.parametrize(
    ("value", "problem"), [(2, "outside"), (-1, "outside"), (None, "missing"), ("yes", "not a number")]
)
def test_bad_jsonl_label_names_file_and_line(tmp_path: Path, value: object, problem: str) -> None:
    path = tmp_path / "labels.jsonl"
    good = json.dumps({"paragraphs1": "a", "paragraphs2": "b", "label": 0})
    bad = json.dumps({"paragraphs1": "a", "paragraphs2": "b", "label": value})
    path.write_text(f"{good}\n\n{bad}\n{good}\n", encoding="utf-8")
    with pytest.raises(ParasimError, match=rf"labels\.jsonl, line 3: .*{problem}"):
        read_pairs_file(path)


def test_jsonl_nan_label_and_parquet_row_numbers(tmp_path: Path) -> None:
    jsonl = tmp_path / "nan.jsonl"
    jsonl.write_text('{"paragraphs1": "a", "paragraphs2": "b", "label": NaN}\n', encoding="utf-8")
    with pytest.raises(ParasimError, match=r"nan\.jsonl, line 1: the label is missing \(NaN\)"):
        read_pairs_file(jsonl)
    parquet = tmp_path / "rows.parquet"
    frame = pd.DataFrame(
        {"paragraphs1": ["a", "b", "c"], "paragraphs2": ["x", "y", "z"], "label": [1.0, 0.0, None]}
    )
    frame.to_parquet(parquet)
    with pytest.raises(ParasimError, match=r"rows\.parquet, row 3: the label is missing"):
        read_pairs_file(parquet)


def test_empty_paragraphs_are_kept_unless_drop_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.parquet"
    frame = pd.DataFrame(
        {"paragraphs1": ["a", "  \n ", None, "d"], "paragraphs2": ["w", "x", "y", ""], "label": [1, 0, 1, 0]}
    )
    frame.to_parquet(path)
    kept = read_pairs_file(path)
    assert [(r.text_a, r.text_b) for r in kept] == [("a", "w"), ("  \n ", "x"), ("", "y"), ("d", "")]
    with pytest.warns(UserWarning, match="dropped 3 of 4"):
        dropped = read_pairs_file(path, drop_empty=True)
    assert dropped == [PairRecord("a", "w", 1.0, "blank")]


# ---------------------------------------------------------------- sentence-level evaluation sets

EMBEDDED = Path(corpus_path("mrpc")).parent  # the test splits ship with the package (held-out evaluation)
SENTENCE_SETS = [
    (read_mrpc, SHARED_DATA / "mrpc/msr_paraphrase_train.txt", 4076, "mrpc"),
    (read_mrpc, EMBEDDED / "mrpc/msr_paraphrase_test.txt", 1725, "mrpc"),
    (read_paws, SHARED_DATA / "paws-wiki/dev.tsv", 8000, "paws"),
    (read_paws, EMBEDDED / "paws_wiki/test.tsv", 8000, "paws"),
    (read_sts, SHARED_DATA / "stsbenchmark/sts-train.csv", 5749, "stsb"),
    (read_sts, SHARED_DATA / "stsbenchmark/sts-dev.csv", 1500, "stsb"),
    (read_sts, EMBEDDED / "stsbenchmark/sts-test.csv", 1379, "stsb"),
]


@pytest.mark.parametrize(("reader", "path", "count", "subset"), SENTENCE_SETS,
                         ids=[f"{p.parent.name}/{p.name}" for _, p, _, _ in SENTENCE_SETS])
def test_sentence_sets_give_the_published_counts(reader, path: Path, count: int, subset: str) -> None:
    if not path.is_file():
        pytest.skip(f"{path} not available (only the test splits are embedded)")
    records = reader(path)
    assert len(records) == count
    assert {r.subset for r in records} == {subset}
    assert all(r.text_a.strip() and r.text_b.strip() for r in records)
    assert min(r.label for r in records) == 0.0
    assert max(r.label for r in records) == 1.0
    if subset == "stsb":
        assert all(0.0 <= r.label <= 1.0 for r in records)
        assert len({r.label for r in records}) > 2
    else:
        assert {r.label for r in records} == {0.0, 1.0}


def test_embedded_mrpc_first_pair_and_paws_label_split() -> None:
    first = read_mrpc(EMBEDDED / "mrpc/msr_paraphrase_test.txt")[0]
    assert first.text_a.startswith("PCCW's chief operating officer, Mike Butcher")
    assert first.label == 1.0
    assert sum(r.label for r in read_paws(EMBEDDED / "paws_wiki/test.tsv")) == 3536


def test_embedded_corpora_keep_their_readme_and_licence() -> None:
    for name, files in {"mrpc": ["README.txt", "Microsoft Shared Source License.htm"], "paws_wiki": ["README.txt"],
                        "stsbenchmark": ["README.txt", "LICENSE.txt"]}.items():
        for file in files:
            assert (EMBEDDED / name / file).is_file(), f"{name}/{file}"


def test_sts_score_is_divided_by_five(tmp_path: Path) -> None:
    path = tmp_path / "sts.csv"
    path.write_text(
        'main-captions\tMSRvid\t2012test\t0001\t3.800\tA "quoted" one.\tAnother.\n'
        "main-news\theadlines\t2015\t0002\t6.0\tBad.\tScore.\n",
        encoding="utf-8",
    )
    with pytest.raises(ParasimError, match=r"sts\.csv, line 2: label '6\.0' is outside \[0, 5\]"):
        read_sts(path)
    path.write_text(path.read_text(encoding="utf-8").split("\n")[0] + "\n", encoding="utf-8")
    assert read_sts(path) == [PairRecord('A "quoted" one.', "Another.", pytest.approx(0.76), "stsb")]
