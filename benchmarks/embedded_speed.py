"""Prefill and decode speed of the embedded models, measured side by side in one run.

    .venv/bin/python benchmarks/embedded_speed.py [--repeats 3] [--prompt-tokens 512] [--decode 128]

Prints tokens/s per model and the ratio to the first model. Run by hand; not part of the tests.
"""

from __future__ import annotations

import argparse
import statistics
import time

from forage.llm.embedded import EmbeddedLLM

TEXT = (
    "The harbour town kept its old stone pier, and every spring the fishing boats were painted in "
    "the colours of the families that owned them. "
)


def measure(name: str, prompt_tokens: int, decode: int, repeats: int) -> tuple[float, float]:
    llm = EmbeddedLLM(name, n_ctx=prompt_tokens + decode + 16)
    stream = llm.token_stream()
    tokens = stream.tokenize(TEXT * 200, bos=True)[:prompt_tokens]
    prefill, dec = [], []
    for _ in range(repeats):
        stream = llm.token_stream()
        t0 = time.perf_counter()
        stream.eval(tokens)
        prefill.append(len(tokens) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        _, logprobs, _ = stream.generate(decode, eos=False)
        dec.append(len(logprobs) / (time.perf_counter() - t0))
    return statistics.median(prefill), statistics.median(dec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="smollm2,gemma3-270m")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = [(m, *measure(m, args.prompt_tokens, args.decode, args.repeats)) for m in args.models.split(",")]
    base = rows[0]
    print(f"{'model':<14}{'prefill tok/s':>15}{'decode tok/s':>14}{'prefill ratio':>15}{'decode ratio':>14}")
    for name, p, d in rows:
        print(f"{name:<14}{p:>15.1f}{d:>14.1f}{p / base[1]:>15.2f}{d / base[2]:>14.2f}")


if __name__ == "__main__":
    main()
