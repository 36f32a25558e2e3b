"""The export check's power: torch against llama.cpp next-token log-probabilities, for the base
alone, a right export and an export with the q/k permutation deliberately wrong.

    python benchmarks/export_check.py [--adapter forage-small] [--prompts 20]

Loads the base into torch, copies an adapter's LoRA into it (``forage.train.adapter_init``: the
shipped forage-small by default), writes it back as GGUF twice — right, and with the q/k rows
unpermuted — and compares llama.cpp (Q4_1 base + each adapter) with torch on held-out prompts of
a small mixture (prompts of every format, from a training world): the largest |difference| of
log-probabilities over torch's ``TOP_TOKENS`` most likely next tokens, per prompt. The base alone
(no adapter on either side) shows the floor that llama.cpp's quantized arithmetic leaves;
``LOGPROB_TOLERANCE`` must lie above the right export's and below the wrong one's.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", default="forage-small")
    ap.add_argument("--prompts", type=int, default=20)
    args = ap.parse_args()

    from llama_cpp import Llama

    from forage.train.adapter_init import load_init
    from forage.train.export import (
        LOGPROB_TOLERANCE,
        llama_next_logprobs,
        logprob_diff,
        torch_next_logprobs,
        write_adapter,
    )
    from forage.train.mixture import MixtureSettings, build_mixture
    from forage.train.trainer import TrainSettings, base_path, load_base, with_lora

    mix = build_mixture(MixtureSettings(seed=7, per_format=2, world_seeds=(1007,),
                                        world_questions=60, max_shots=0))
    prompts = [e.prompt for e in mix.examples][: args.prompts]
    base_file = base_path("smollm2")
    model, tok = load_base("smollm2")
    ids = [tok(p, add_special_tokens=False).input_ids[-2000:] for p in prompts]
    plain = [torch_next_logprobs(model, i) for i in ids]
    settings = TrainSettings()
    peft = with_lora(model, settings)
    load_init(peft, args.adapter, settings)
    trained = [torch_next_logprobs(peft, i) for i in ids]
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as d:
        right = write_adapter(peft, Path(d) / "right.gguf")
        wrong = write_adapter(peft, Path(d) / "wrong.gguf", qk_permutation=False)
        for label, lora, want in (("base alone", None, plain), ("right export", right, trained),
                                  ("q/k permutation wrong", wrong, trained)):
            llm = Llama(model_path=str(base_file), lora_path=str(lora) if lora else None,
                        n_ctx=2048, verbose=False, seed=0)
            pairs = [(t, llama_next_logprobs(llm, i)) for t, i in zip(want, ids, strict=True)]
            rows[label] = [logprob_diff(t, q) for t, q in pairs]
            for k in (1, 3):
                rows.setdefault(f"{label} top{k}", []).extend(
                    logprob_diff(t, q, top=k) for t, q in pairs)
            rows.setdefault(f"{label} weighted", []).extend(
                float(np.sum(np.exp(t[b := np.argsort(-t)[:10]]) * np.abs(t[b] - q[b]))
                      / np.sum(np.exp(t[b]))) for t, q in pairs)
            del llm
    print(f"{len(prompts)} prompts, adapter {args.adapter}; per prompt, the largest |log p torch -"
          f" log p llama.cpp| over torch's top tokens (the check: its median within "
          f"{LOGPROB_TOLERANCE})")
    for label, diffs in rows.items():
        d = np.array(diffs)
        print(f"  {label:<34} max {d.max():.3f}  median {np.median(d):.3f}  "
              f"over tolerance {int((d > LOGPROB_TOLERANCE).sum())}/{len(d)}")


if __name__ == "__main__":
    main()
