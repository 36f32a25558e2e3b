"""Training speed and memory: the trainer before the efficiency work against today's, side by side.

Both train one epoch of LoRA on the *same* examples of a mixture (the default: a small mixture of
every format built here from a training world and the shared training files), each in a fresh
process so that its peak resident memory (VmHWM) is its own. "before" is ``forage.train.trainer``
as of commit 754dc28 (fixed batches of 8, the loss over full-vocabulary logits at every
position, averaged over all tokens of a batch), loaded from git; "now" is the current trainer
(completion-only head and loss, per-example mean, token-capped batches), with and without
gradient checkpointing. Printed per variant: steps, tokens (no padding), supervised tokens,
seconds, tokens/s, peak RSS; then the ratios against "before".

    python benchmarks/train_speed.py --examples 96
    python benchmarks/train_speed.py --mixture runs/train/mixture --examples 200

Run it on a quiet machine: tokens/s are only comparable within one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BEFORE = "754dc28"
VARIANTS = ("before", "now", "now+checkpointing")


def _examples(args: argparse.Namespace) -> list:  # type: ignore[type-arg]
    from forage.train.mixture import MixtureSettings, build_mixture, load_examples

    if args.mixture:
        examples, _ = load_examples(args.mixture)
    else:
        shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train"
        mix = build_mixture(MixtureSettings(
            seed=0, per_format=max(4, args.examples // 8), world_seeds=(1001,),
            world_questions=120, train_dir=str(shared) if shared.is_dir() else None,
            max_shots=1))
        examples = list(mix.examples)
    return list(examples)[: args.examples]


def _peak_rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def one(variant: str, args: argparse.Namespace) -> dict[str, object]:
    import torch

    torch.set_num_threads(args.threads)
    examples = _examples(args)
    if variant == "before":
        source = subprocess.run(["git", "show", f"{BEFORE}:src/forage/train/trainer.py"],
                                check=True, capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parents[1]).stdout
        path = Path(tempfile.mkdtemp()) / "trainer_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("trainer_before", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules["trainer_before"] = mod  # dataclasses look their module up there
        spec.loader.exec_module(mod)
        settings = mod.TrainSettings(seed=0, batch_size=8, max_tokens=args.max_tokens,
                                     checkpoint_every=10_000, lr=3e-4, warmup=4)
    else:
        from forage.train import trainer as mod

        settings = mod.TrainSettings(seed=0, batch_size=16, batch_tokens=args.batch_tokens,
                                     max_tokens=args.max_tokens, checkpoint_every=10_000,
                                     lr=3e-4, warmup=4,
                                     checkpointing=variant.endswith("checkpointing"))
    base = mod.load_base("smollm2")
    seen: list[object] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        _, _, result = mod.train(examples, settings, out, model_and_tokenizer=base,
                                 on_progress=seen.append)
    seconds = time.monotonic() - started
    last = seen[-1]
    supervised = getattr(last, "supervised", None)
    if supervised is None:  # the old Progress did not count them: count them the same way
        tok = base[1]
        supervised = sum(len(tok(e.completion, add_special_tokens=False).input_ids)
                         for e in examples)
    return {"variant": variant, "examples": len(examples), "steps": result.steps,
            "tokens": last.tokens, "supervised": supervised,  # type: ignore[attr-defined]
            "seconds": round(seconds, 1),
            "tokens_per_s": round(last.tokens / seconds, 1),  # type: ignore[attr-defined]
            "peak_rss_gb": round(_peak_rss_gb(), 2), "final_loss": round(result.final_loss, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--mixture", help="a saved mixture folder (forage train --mixture-only)")
    ap.add_argument("--max-tokens", type=int, default=640)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args)))
        return
    rows = []
    for variant in args.variants.split(","):
        cmd = [sys.executable, __file__, "--one", variant, *sys.argv[1:]]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    ref = rows[0]
    print(f"\n{'variant':<20}{'steps':>6}{'tokens':>9}{'superv.':>9}{'s':>8}{'tok/s':>8}"
          f"{'x tok/s':>9}{'RSS GB':>8}{'loss':>7}")
    for r in rows:
        print(f"{r['variant']:<20}{r['steps']:>6}{r['tokens']:>9}{r['supervised']:>9}"
              f"{r['seconds']:>8}{r['tokens_per_s']:>8}"
              f"{r['tokens_per_s'] / ref['tokens_per_s']:>9.2f}{r['peak_rss_gb']:>8}"
              f"{r['final_loss']:>7}")


if __name__ == "__main__":
    main()
