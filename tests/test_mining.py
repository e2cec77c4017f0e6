"""Mining: documents → paragraphs (spans, windows, bad input), the embedding cache, the predict loop under
ddp_cpu, the FAISS index, and the CLI finding every planted pair of a small collection (real weights)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from conftest import CONF, needs_weights, tiny
from parasim.errors import ParasimError
from parasim.mining import planted
from parasim.mining.cache import EmbeddingCache, text_keys
from parasim.mining.documents import Document, Segmenter, read_collection, segment
from parasim.mining.embedder import ShardWriter, embed_missing, group_texts
from parasim.mining.index import build_index, search
from parasim.mining.pipeline import mine
from parasim.trainer import build_trainer
from parasim.weights import model_dir
from test_eval import run_script

TEXT = "First paragraph. It has two sentences.\n\n  Second one! Short.\n \nThird: a b c. d e f? g h i."


def compose_mine(overrides: list[str], output_dir: Path) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("mine", overrides=["model_dir=x", "queries=x", "trainer=cpu", "trainer.precision=32-true",
                                         *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def covered(collection, doc: int) -> str:
    """The document's text as its sentences cover it, each sentence once (windows overlap)."""
    text = collection.documents[doc].text
    rows = np.flatnonzero(np.repeat(collection.paragraph_doc, np.diff(collection.sentence_ptr)) == doc)
    spans = np.unique(collection.sentence_spans[rows], axis=0)
    return "".join(text[s:e] for s, e in spans)


@pytest.mark.parametrize("mode", ["blank_lines", "window", "auto"])
def test_paragraph_and_sentence_spans_slice_back_and_cover_the_text(mode: str) -> None:
    docs = [Document("d", TEXT), Document("run-on", "One. Two. Three. Four. Five. Six. Seven.")]
    collection = segment(docs, Segmenter(mode=mode, window=3, stride=2))
    for p in range(len(collection)):
        start, end = collection.paragraph_spans[p]
        paragraph = collection.paragraph_text(p)
        assert paragraph == paragraph.strip() and paragraph == docs[collection.paragraph_doc[p]].text[start:end]
        assert [paragraph[s:e] for s, e in collection.sentence_spans_in_paragraph(p)] == collection.sentences(p)
    for d, doc in enumerate(docs):  # nothing lost: every non-space character is in a sentence
        assert "".join(covered(collection, d).split()) == "".join(doc.text.split())
    counts = np.bincount(collection.paragraph_doc, minlength=2)
    if mode == "blank_lines":
        assert counts.tolist() == [3, 1]
    elif mode == "window":  # 7 sentences, windows of 3 every 2: 0-2, 2-4, 4-6
        assert counts[1] == 3 and collection.sentences(int(np.flatnonzero(collection.paragraph_doc == 1)[-1])) == \
            ["Five.", "Six.", "Seven."]
    else:  # blank lines where the document has them, windows where it has none
        assert counts.tolist() == [3, 3]


def test_bad_input_gets_a_clear_message_or_documented_handling(tmp_path: Path) -> None:
    seg = Segmenter()
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ParasimError, match="no .txt documents"):
        read_collection(tmp_path / "empty_dir", seg)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT)
    (folder / "empty.txt").write_text("  \n\n ")
    (folder / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me. Na\xefve!".encode("cp1252"))
    line = " ".join(f"word{i}" for i in range(120_000))  # ≈ 1 MB on one line, no sentence terminator at all
    (folder / "one_line.txt").write_text(line)
    (folder / "binary.txt").write_bytes(b"%PDF-1.4\x00\x01\x02 binary")
    with pytest.raises(ParasimError, match=r"binary.txt: a binary file.*input.on_bad_file=skip"):
        read_collection(folder, seg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        collection = read_collection(folder, seg, on_bad_file="skip")
    messages = " ".join(str(w.message) for w in caught)
    assert "binary.txt" in messages and "latin1.txt: not valid UTF-8" in messages and "empty" in messages
    assert collection.skipped == [str(folder / "binary.txt")] and collection.empty_documents == ["empty.txt"]
    ids = [d.id for d in collection.documents]
    assert ids == ["a.txt", "empty.txt", "latin1.txt", "one_line.txt"]
    assert collection.documents[2].text == "Café crème. Naïve!"
    big = ids.index("one_line.txt")
    assert "".join(covered(collection, big).split()) == "".join(line.split())  # all of the 1 MB kept
    lengths = np.diff(collection.sentence_spans, axis=1)
    assert lengths.max() <= seg.max_sentence_chars and collection.cut_sentences == 1
    table = tmp_path / "docs.jsonl"
    table.write_text('{"id": "x", "text": "One."}\n{"id": "y", "text": "Two."}\n{"id": "x", "text": "Three."}\n')
    with pytest.raises(ParasimError, match=r"duplicate id 'x' \(lines 1 and 3\)"):
        read_collection(table, seg)
    (tmp_path / "docs.csv").write_text("id,body\n1,hello\n")
    with pytest.raises(ParasimError, match="no 'text' value"):
        read_collection(tmp_path / "docs.csv", seg)


def test_cache_embeds_only_what_is_new_and_matches_the_encoder(tmp_path: Path) -> None:
    encoder = tiny(packed=False)
    cfg = compose_mine([], tmp_path)
    cache = EmbeddingCache(tmp_path / "cache", "tiny", encoder.dim)
    first = ["One sentence.", "Another one here.", "A third, longer sentence than the others."]
    grown = [*first, "A new sentence.", "Another one here."]  # one repeat inside the new texts too

    def run(texts: list[str]) -> int:
        writer = ShardWriter()
        return embed_missing(encoder, texts, text_keys(texts), cache, build_trainer(cfg.trainer, [writer], []),
                             writer, batch_tokens=64)

    assert run(first) == 3
    assert run(first) == 0  # nothing new: no predict at all
    assert run(grown) == 1
    assert len(cache) == 4 and len(cache.shards()) == 2
    reopened = EmbeddingCache(tmp_path / "cache", "tiny", encoder.dim)  # memory-mapped from disk
    np.testing.assert_allclose(reopened.get(text_keys(grown)), encoder.encode(grown).numpy(), atol=1e-5)


def test_self_mining_skips_pairs_inside_a_document_unless_asked(tmp_path: Path) -> None:
    """One collection against itself: no pair with itself or inside one document; `same_document` adds those."""
    encoder = tiny()
    docs = [Document("one", TEXT), Document("two", "Second paragraph. It has two sentences.\n\nAnother.")]

    def run(documents: list[Document], same: bool):
        cfg = compose_mine([f"cache.dir={tmp_path}/cache", f"same_document={same}",
                            "+trainer.enable_progress_bar=false"], tmp_path)
        collection = segment(documents, Segmenter())
        mined = mine(encoder, collection, None, "tiny", lambda cbs: build_trainer(cfg.trainer, cbs, []), cfg,
                     progress=False)
        pairs = list(zip(mined.q.tolist(), mined.s.tolist(), strict=True))
        assert all(q < s for q, s in pairs) and len(set(pairs)) == len(pairs)  # each unordered pair once
        return {(int(collection.paragraph_doc[q]), int(collection.paragraph_doc[s])) for q, s in pairs}

    assert run(docs, False) == {(0, 1)}
    assert run(docs, True) == {(0, 0), (0, 1), (1, 1)}
    assert run(docs[:1], False) == set()  # one document alone: nothing to pair, and no error


def test_ddp_cpu_shards_join_into_the_one_process_result(tmp_path: Path) -> None:
    """2 spawned processes, each writing its own shards: joined, they hold every text once, equal to one process
    to 1e-5. Lightning's predict loop shards without padding (an unrepeated sampler); a padding repeat, as torch's
    DistributedSampler adds for an odd batch count, is dropped by the join too."""
    encoder = tiny()
    texts = [f"Sentence number {i} of the test, {'with more words ' * (i % 4)}here." for i in range(21)]
    keys = text_keys(texts)
    budget = next(b for b in range(64, 256, 8) if len(group_texts(texts, b, encoder.max_seq_length)) % 2)
    results = {}
    for name, trainer_choice in (("one", "cpu"), ("ddp", "ddp_cpu")):
        cfg = compose_mine([f"trainer={trainer_choice}"], tmp_path / name)
        cache = EmbeddingCache(tmp_path / name / "cache", "tiny", encoder.dim)
        writer = ShardWriter()
        embedded = embed_missing(encoder, texts, keys, cache, build_trainer(cfg.trainer, [writer], []), writer,
                                 batch_tokens=budget)  # an odd number of batches
        assert embedded == len(texts)
        results[name] = cache
    ddp = results["ddp"]
    shards = ddp.shards()
    assert {s.rsplit("-", 1)[-1] for s in shards} == {"r0", "r1"}  # each rank wrote its own
    assert sum(len(np.load(ddp.dir / f"{s}.keys.npy")) for s in shards) == len(texts) == len(ddp)
    np.testing.assert_allclose(ddp.get(keys), results["one"].get(keys), atol=1e-5)
    first = np.load(ddp.dir / f"{shards[0]}.keys.npy")[:3]  # the first batch again, as a padding repeat
    ddp.write_shard(first, ddp.get(first), tag="-r1")
    ddp.reload()
    assert len(ddp) == len(texts)
    np.testing.assert_allclose(ddp.get(keys), results["one"].get(keys), atol=1e-5)


def test_approximate_index_finds_the_exact_neighbours_on_a_small_set() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 32)).astype(np.float32)
    exact = search(build_index(vectors, kind="auto", exact_max=1000), queries, 5)[1]
    for kind in ("hnsw", "ivf"):
        approx = search(build_index(vectors, kind=kind, nprobe=64), queries, 5)[1]
        assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(approx, exact, strict=True)]) >= 0.95, kind
    assert build_index(vectors, kind="auto", exact_max=100).__class__.__name__ == "IndexHNSWFlat"


@needs_weights
@pytest.mark.weights
def test_mining_cli_finds_every_planted_pair(tmp_path: Path) -> None:
    """4 paraphrased paragraphs of the default data's test split among 8 distractors (real all-mpnet-base-v2):
    each planted source is a candidate of its query (k=2 of 8 sources per route) and ranks first by SE-F1."""
    collection = planted.build(total_paragraphs=16, planted=4, per_document=2)
    queries = planted.write_folder(collection.queries, tmp_path / "queries")
    sources = planted.write_folder(collection.sources, tmp_path / "sources")
    run = tmp_path / "run"
    result = run_script("mine.py", f"model_dir={model_dir()}", f"queries={queries}", f"sources={sources}",
                        "candidates.k=2", f"cache.dir={tmp_path}/cache", f"hydra.run.dir={run}", "trainer=cpu",
                        "trainer.precision=32-true", "progress=false", "logger=none")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (run / "pairs.jsonl").read_text().splitlines()]
    best = {}
    for row in rows:  # rows are ranked by SE-F1: the first row of a query paragraph is its best source
        best.setdefault(row["query_text"], row)
    for query_text, source_text in collection.answers:
        assert best[query_text]["source_text"] == source_text
        row = best[query_text]
        document = (queries / f"{row['query_doc']}").read_text()
        start, end = row["query_span"]
        assert document[start:end] == query_text
        for sentence in row["alignment"]["a"]:
            s, e = sentence["span"]
            assert document[s:e] == sentence["text"]
    summary = json.loads((run / "mine_summary.json").read_text())
    assert summary["counts"]["embedded_texts"] > 0 and (run / "report.html").stat().st_size > 0
