"""parasim against the peer (benchmarks/peer.py), side by side in one process: `python benchmarks/run.py`.

Same records (paragraph pairs of the default MTMP-PAN data), same weights (all-mpnet-base-v2 from the
local cache), batch 4, same precision. Prints every figure and its ratio, writes benchmarks/RESULTS.md,
and ends with one JSON line. Peak RSS is measured in one child process per side (`ru_maxrss` is per
process). Sized for ~10 minutes on 2 CPU cores; `--quick` shrinks every row for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from parasim.corpora import corpus_path  # noqa: E402
from parasim.data.mtmp_pan import build_splits  # noqa: E402
from parasim.models.encoder import load_pretrained  # noqa: E402
from parasim.trainer import cpu_has_fast_bf16  # noqa: E402
from parasim.weights import model_dir  # noqa: E402

SIZES = {  # pairs per row (every training row a multiple of the batch, 4); rounds of the side-by-side rows
    "full": {"train": 24, "rss": 4, "score": 24, "growth": 8, "ablation": 4, "train_rounds": 3, "score_rounds": 3},
    "quick": {"train": 8, "rss": 4, "score": 4, "growth": 4, "ablation": 4, "train_rounds": 1, "score_rounds": 1},
}
DEFAULT_THREADS = os.cpu_count() or 1  # the machine's limit; --threads 1 is steadier on shared cores
GROWTH = (1, 2, 4)  # sentences per paragraph relative to the default data (2–4 per paragraph)


def data():
    """The default data (conf/data/mtmp_pan.yaml: min_k 2, max_k 4): train pairs and test pairs."""
    splits = build_splits(corpus_path("mtmp_pan"), seed=0, min_k=2, max_k=4)
    return splits["train"], splits["test"]


def peak_rss_mb() -> float:
    """VmHWM of this process: unlike ru_maxrss, it starts afresh at exec, so a child does not inherit
    the high-water mark of the parent it was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(side: str, pairs: int) -> None:
    """Train `pairs` pairs (fp32, batch 4) on one side only and print this process's peak RSS."""
    import sides

    train, _ = data()
    timing = sides.peer_train(train[:pairs]) if side == "peer" else sides.parasim_train(train[:pairs])
    print(json.dumps({"side": side, "peak_rss_mb": peak_rss_mb(), "pairs": timing.pairs}))


def rss(side: str, pairs: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--rss-child", side, "--rss-pairs", str(pairs),
                          "--threads", str(torch.get_num_threads())],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def best_of(rounds: int, peer_side, parasim_side) -> tuple[list, list]:
    """Each side `rounds` times, alternating which goes first; every round's result per side.

    Other jobs on the machine and clock drift only ever slow a round down, so the report takes each
    side's fastest round (as `timeit` does) and prints all of them.
    """
    peer_rounds, parasim_rounds = [], []
    for i in range(rounds):
        order = [(peer_rounds, peer_side), (parasim_rounds, parasim_side)]
        for out, side in order if i % 2 == 0 else order[::-1]:
            out.append(side())
    return peer_rounds, parasim_rounds


def fastest(rounds: list):
    """The round with the least wall time; rounds are Timings or (values, Timing) pairs."""
    return min(rounds, key=lambda x: (x[1] if isinstance(x, tuple) else x).wall)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(size: dict) -> dict:
    import levers
    import sides

    train, test = data()
    r: dict = {"sizes": size, "load_before": os.getloadavg()}
    check = train[: sides.BATCH]

    say("loss equality (dropout off, one batch of 4): peer loss; parasim fp32 step on the same batch")
    r["loss_peer"] = sides.peer_loss(check)
    r["loss_parasim"], r["step_fp32"] = sides.step_without_dropout(check)
    gap = abs(r["loss_peer"] - r["loss_parasim"])
    say(f"  peer {r['loss_peer']:.9f}  parasim {r['loss_parasim']:.9f}  |Δ| {gap:.2e}")

    say(f"training fp32, {size['train']} pairs each, {size['train_rounds']} interleaved rounds")
    rounds = best_of(size["train_rounds"], lambda: sides.peer_train(train[: size["train"]]),
                     lambda: sides.parasim_train(train[: size["train"]]))
    r["train_rounds"] = [[t.pairs_per_s for t in side] for side in rounds]
    r["train_peer"], r["train_parasim"] = (fastest(side) for side in rounds)
    say(f"  pairs/s per round: peer {r['train_rounds'][0]}  parasim {r['train_rounds'][1]}")

    if cpu_has_fast_bf16():  # emulated elsewhere (≈ 30× slower than fp32): a row nobody should use, 4 minutes
        say("training bf16-mixed: one step on the check batch, dropout off (loss comparable with fp32)")
        r["loss_bf16"], r["train_bf16"] = sides.step_without_dropout(check, bf16=True)
        say(f"  parasim bf16 {r['train_bf16'].pairs_per_s:.3f} pairs/s (fp32 same step "
            f"{r['step_fp32'].pairs_per_s:.3f}), loss {r['loss_bf16']:.6f}")
    else:
        say("training bf16-mixed: skipped, this CPU has no native bf16 (AVX512-BF16/AMX): it would be emulated")

    say(f"scoring, {size['score']} test pairs, {size['score_rounds']} interleaved rounds")
    a, b = [x.text_a for x in test[: size["score"]]], [x.text_b for x in test[: size["score"]]]
    import peer

    peer_model, encoder = peer.load(model_dir()).eval(), load_pretrained(model_dir()).eval()
    rounds = best_of(size["score_rounds"], lambda: levers.peer_score(peer_model, a, b),
                     lambda: levers.parasim_score(encoder, a, b))
    r["score_rounds"] = [[t.pairs_per_s for _, t in side] for side in rounds]
    (r["score_peer_values"], r["score_peer"]), (r["score_parasim_values"], r["score_parasim"]) = (
        fastest(side) for side in rounds)
    say(f"  pairs/s per round: peer {r['score_rounds'][0]}  parasim {r['score_rounds'][1]}")
    r["score_int8_values"], r["score_int8"] = levers.parasim_score(levers.int8_dynamic(encoder), a, b)
    say(f"  peer {r['score_peer'].pairs_per_s:.3f}  parasim {r['score_parasim'].pairs_per_s:.3f}  "
        f"int8 {r['score_int8'].pairs_per_s:.3f} pairs/s")

    say("levers on the model's own cost (plain loop, fp32, first batch = warm-up)")
    records = train[: size["ablation"] + sides.BATCH]
    r["ablation"] = {}
    for name, packed, fill in (("eager, one padded chunk (before)", False, 0.0),
                               ("eager, chunks ≥ 95 % full", False, 0.95),
                               ("packed, one chunk", True, 0.0),
                               ("packed, chunks ≥ 95 % full (default)", True, 0.95)):
        encoder = load_pretrained(model_dir(), max_seq_length=384)
        encoder.packed = packed
        r["ablation"][name] = sides.train_steps(encoder, records, min_fill=fill)
        say(f"  {name}: {r['ablation'][name].pairs_per_s:.3f} pairs/s")

    say(f"cost growth: {GROWTH}× the sentences per paragraph, same {size['growth']} pairs' sentences")
    growth_records = train[size["train"] : size["train"] + size["growth"]]
    r["growth"] = levers.growth(load_pretrained(model_dir()), growth_records, GROWTH)
    for row in r["growth"]:
        say(f"  {row['factor']}×: {row['s_per_pair']:.3f} s/pair, {row['sentences_per_pair']:.1f} sentences/pair")

    say("profile of one fp32 training step")
    r["profile_table"], r["profile_share"] = levers.profile_step(load_pretrained(model_dir()), train)

    say(f"peak RSS, fp32 training of {size['rss']} pairs, one child process per side")
    r["rss_peer"] = rss("peer", size["rss"])
    r["rss_parasim"] = rss("parasim", size["rss"])
    say(f"  peer {r['rss_peer']:.0f} MiB  parasim {r['rss_parasim']:.0f} MiB")
    r["load_after"] = os.getloadavg()
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every row")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"torch threads per side (default: all {DEFAULT_THREADS} cores)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--rss-child", choices=["peer", "parasim"], help=argparse.SUPPRESS)
    parser.add_argument("--rss-pairs", type=int, default=12, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.rss_child:
        rss_child(args.rss_child, args.rss_pairs)
        return
    import report

    started = time.perf_counter()
    results = run(SIZES["quick" if args.quick else "full"])
    results["threads"] = torch.get_num_threads()
    results["total_s"] = time.perf_counter() - started
    summary = report.summary(results)
    report.print_table(summary)
    Path(args.output).write_text(report.markdown(results, summary))
    say(f"wrote {args.output} in {results['total_s']:.0f} s")
    print(json.dumps(summary["json"]))


if __name__ == "__main__":
    main()
