"""Search speed: index build time and queries per second of BM25, dense (e5) and hybrid search,
measured side by side in one run at several corpus sizes.

Passages are word salad, generated deterministically from ``--seed``: words drawn with Zipf-like
frequencies from the real English vocabulary of the benchmark data in ``shared/data`` (or from
pseudo-words when that folder is absent). Queries are 3-6 words taken from random passages.

Dense search embeds every passage with the e5 model, which on a 2-core machine takes minutes per
thousand passages. So the dense *build* rate is measured on ``--dense-build-n`` passages (the
"build s" column then extrapolates it to the full size, marked ``~``), while dense and hybrid
*queries* run at full size: real e5 query encoding plus an exact matrix product over a full-size
document matrix whose rows repeat the embedded passages. Query cost does not depend on the vectors'
values, so the query rates are measured, not extrapolated.

Usage::

    PYTHONPATH=src python benchmarks/search_speed.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from forage.core.types import Document
from forage.data.loaders import load
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.search.dense import DenseSearch, E5Embedder, embed_documents
from forage.search.hybrid import HybridSearch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "data"


def vocabulary(data_dir: Path, rng: np.random.Generator) -> tuple[list[str], str]:
    """Words by descending frequency, from the benchmark data's paragraphs, or pseudo-words."""
    counts: Counter[str] = Counter()
    for path in sorted(data_dir.glob("*.jsonl")) if data_dir.is_dir() else []:
        for document in load(path).corpus:
            counts.update(re.findall(r"[A-Za-z]+", document.text))
    if counts:
        words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return words, f"{len(words)} real words from {data_dir}"
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, size=int(rng.integers(3, 10)))) for _ in range(20000)]
    return words, "20000 pseudo-words (no benchmark data found)"


def make_passages(n: int, words: list[str], n_words: int, rng: np.random.Generator) -> list[str]:
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.1
    ids = rng.choice(len(words), size=(n, n_words), p=weights / weights.sum())
    vocab = np.array(words)
    return [" ".join(row) for row in vocab[ids]]


def make_queries(passages: list[str], n: int, rng: np.random.Generator) -> list[str]:
    queries = []
    for i in rng.integers(0, len(passages), size=n):
        words = passages[int(i)].split()
        length = int(rng.integers(3, 7))
        start = int(rng.integers(0, len(words) - length))
        queries.append(" ".join(words[start : start + length]))
    return queries


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def qps(search: Callable[[str, int], object], queries: list[str], k: int) -> float:
    for q in queries[:5]:  # warm-up
        search(q, k)
    _, seconds = timed(lambda: [search(q, k) for q in queries])
    return len(queries) / seconds


def bench_bm25(corpus: Corpus, queries: list[str], k: int) -> tuple[BM25Search, tuple[object, ...]]:
    """Build in memory; build and save; reload in a fresh corpus object (fingerprint included)."""
    bm25, build_s = timed(partial(BM25Search, corpus))
    assert isinstance(bm25, BM25Search)
    with tempfile.TemporaryDirectory() as tmp:
        _, save_s = timed(partial(BM25Search, corpus, index_dir=tmp))
        reloaded, load_s = timed(lambda: BM25Search(Corpus(corpus.documents), index_dir=tmp))
        assert isinstance(reloaded, BM25Search) and not reloaded.built
    rate = qps(bm25.search, queries, k)
    print(
        f"  bm25 {len(corpus)}: build {build_s:.1f} s, build+save {save_s:.1f} s, "
        f"reload {load_s:.2f} s, {rate:.0f} queries/s",
        flush=True,
    )
    return bm25, ("bm25", len(corpus), f"{build_s:.1f}", f"{load_s:.2f}", f"{rate:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--words", type=int, default=80, help="words per passage")
    parser.add_argument("--queries", type=int, default=200, help="BM25 queries per size")
    parser.add_argument("--dense-queries", type=int, default=100, help="dense/hybrid queries")
    parser.add_argument("--dense-build-n", type=int, default=200, help="passages embedded")
    parser.add_argument("--no-dense", action="store_true")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    words, vocab_note = vocabulary(args.data, rng)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"passages: {args.words} words of word salad over {vocab_note}; k={args.k}, "
        f"seed={args.seed}"
    )

    embedder = None if args.no_dense else E5Embedder()
    rows = []
    base_vectors: np.ndarray | None = None
    dense_rate = 0.0
    for size in args.sizes:
        texts = make_passages(size, words, args.words, rng)
        corpus = Corpus(Document(f"p{i}", "", t) for i, t in enumerate(texts))
        queries = make_queries(texts, args.queries, rng)

        bm25, row = bench_bm25(corpus, queries, args.k)
        rows.append(row)

        if embedder is None:
            continue
        if base_vectors is None:
            sample = Corpus(corpus.documents[: args.dense_build_n])
            base_vectors, embed_s = timed(partial(embed_documents, sample, embedder))
            dense_rate = len(sample) / embed_s
            print(
                f"  e5: embedded {len(sample)} passages in {embed_s:.1f} s "
                f"({dense_rate:.1f} passages/s)",
                flush=True,
            )
        assert isinstance(base_vectors, np.ndarray)
        matrix = np.resize(base_vectors, (size, base_vectors.shape[1]))
        dense = DenseSearch.from_embeddings(corpus, embedder, matrix)
        dense_queries = queries[: args.dense_queries]
        rows.append(
            (
                "dense (e5)",
                size,
                f"~{size / dense_rate:.0f}",
                "-",
                f"{qps(dense.search, dense_queries, args.k):.1f}",
            )
        )
        hybrid = HybridSearch([bm25, dense])
        rows.append(
            ("hybrid (bm25+e5)", size, "-", "-", f"{qps(hybrid.search, dense_queries, args.k):.1f}")
        )

    print()
    header = ("tool", "passages", "build s", "reload s", "queries/s")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    if embedder is not None:
        print(
            f"\ndense build rate measured on {args.dense_build_n} passages: "
            f"{dense_rate:.1f} passages/s; '~' marks build times extrapolated from it."
        )


if __name__ == "__main__":
    main()
