"""A tiny real training run: LoRA on SmolLM2-135M (torch, CPU), export, llama.cpp.

Loads the embedded base once (a minute or two) and trains a few steps of a small LoRA on a toy
reading set. Asserts what any working run has: the loss falls, an interrupted run resumes to the
same adapter as an uninterrupted one, the exported GGUF adapter loads in llama.cpp, changes its
output, and reproduces the torch model's greedy continuations.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the train extra (forage[train]) is not installed")
pytest.importorskip("llama_cpp", reason="the embedded extra is not installed")

import torch  # noqa: E402

from forage.core.errors import ConfigError  # noqa: E402
from forage.data.world import WorldSettings  # noqa: E402
from forage.prompts.exemplars import ExemplarSet  # noqa: E402
from forage.train.examples import examples_for  # noqa: E402
from forage.train.export import check_adapter, lora_tensors, write_adapter  # noqa: E402
from forage.train.gold import world_records  # noqa: E402
from forage.train.trainer import (  # noqa: E402
    TrainSettings,
    base_path,
    load_base,
    train,
    with_lora,
)

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def base():
    return load_base("smollm2")


@pytest.fixture(scope="module")
def toy():
    """Short reading examples (no shots) from a training world: (train, held-out)."""
    records = [g for g in world_records(WorldSettings(seed=1002, entities=150, questions=60,
                                                      hops=(1, 2)))
               if g.readable_hops()]
    rng = random.Random(0)
    examples = [e for g in records for e in examples_for("rag", g, ExemplarSet((), ()), rng)]
    return examples[:24], examples[24:30]


class Stop(Exception):
    """Raised from the progress callback: an interruption after step 3."""


def interrupt(p):
    if p.step == 3:
        raise Stop


def _fresh(base):
    model, tokenizer = base
    return copy.deepcopy(model), tokenizer


def test_loss_falls_and_the_adapter_works_in_llama_cpp(base, toy, tmp_path):
    examples, held_out = toy
    settings = TrainSettings(seed=0, batch_size=4, epochs=2, lr=2e-3, warmup=2, rank=8,
                             alpha=16, checkpoint_every=100)
    model, tokenizer, result = train(examples, settings, tmp_path / "run",
                                     model_and_tokenizer=_fresh(base))
    assert result.steps == 12
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < 0.7 * first, result.losses

    adapter = write_adapter(model, tmp_path / "adapter.gguf")
    check = check_adapter(adapter, base_path("smollm2"), model, tokenizer,
                          [e.prompt for e in held_out], max_tokens=8)
    assert check.changed >= 1, check.pairs  # the adapter changes llama.cpp's output
    assert check.agreement >= 0.8, check.pairs  # and llama.cpp follows the torch model


def _interrupted_run(base, examples, folder: Path) -> TrainSettings:
    """A 4-step run with checkpoints every 2 steps, interrupted after its first checkpoint."""
    settings = TrainSettings(seed=1, batch_size=2, max_steps=4, lr=1e-3, warmup=1, rank=4,
                             alpha=8, checkpoint_every=2)
    with pytest.raises(Stop):
        train(examples, settings, folder, on_progress=interrupt, model_and_tokenizer=_fresh(base))
    return settings


def test_an_interrupted_run_resumes_to_the_same_adapter(base, toy, tmp_path):
    examples, _ = toy
    settings = _interrupted_run(base, examples, tmp_path / "a")
    assert (tmp_path / "a" / "checkpoint" / "state.json").is_file()
    resumed, _, r1 = train(examples, settings, tmp_path / "a", model_and_tokenizer=_fresh(base))
    straight, _, r2 = train(examples, settings, tmp_path / "b", model_and_tokenizer=_fresh(base))
    assert r1.resumed_from == 2 and r1.steps == r2.steps == 4
    assert r1.losses == pytest.approx(r2.losses, rel=1e-4)
    a, b = lora_tensors(resumed), lora_tensors(straight)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(torch.from_numpy(a[k]), torch.from_numpy(b[k]), atol=1e-6), k


def test_a_resumed_run_can_stop_early_on_the_planned_schedule(base, toy, tmp_path):
    examples, _ = toy
    settings = _interrupted_run(base, examples, tmp_path / "a")
    _, _, straight = train(examples, settings, tmp_path / "b", model_and_tokenizer=_fresh(base))
    # Stopping at step 3 keeps the 4-step schedule: the same three losses as the full run.
    shorter = TrainSettings(**{**settings.to_dict(), "targets": settings.targets, "max_steps": 3})
    _, _, r = train(examples, shorter, tmp_path / "a", model_and_tokenizer=_fresh(base))
    assert r.resumed_from == 2 and r.steps == 3
    assert r.losses == pytest.approx(straight.losses[:3], rel=1e-4)
    # Any other setting that differs is still refused.
    (tmp_path / "c").mkdir()
    with pytest.raises(Stop):
        train(examples, settings, tmp_path / "c", on_progress=interrupt,
              model_and_tokenizer=_fresh(base))
    other = TrainSettings(**{**settings.to_dict(), "targets": settings.targets, "lr": 2e-3})
    with pytest.raises(ConfigError, match="another run"):
        train(examples, other, tmp_path / "c", model_and_tokenizer=_fresh(base))


def test_the_export_check_passes_a_right_export_and_fails_a_wrong_q_k_permutation(
        base, toy, tmp_path):
    """The negative control: forage-small's real LoRA, written right and with the q/k rows left
    unpermuted; only the right one stays within the log-probability tolerance."""
    from forage.train.adapter_init import load_init

    model, tokenizer = _fresh(base)
    settings = TrainSettings()
    peft = with_lora(model, settings)
    load_init(peft, "forage-small", settings)
    prompts = [e.prompt for e in (*toy[1], *toy[0])][:8]
    right = write_adapter(peft, tmp_path / "right.gguf")
    wrong = write_adapter(peft, tmp_path / "wrong.gguf", qk_permutation=False)
    ok = check_adapter(right, base_path("smollm2"), peft, tokenizer, prompts, max_tokens=4)
    bad = check_adapter(wrong, base_path("smollm2"), peft, tokenizer, prompts, max_tokens=4)
    assert ok.passed, ok.logprob_diff
    assert not bad.passed, bad.logprob_diff
    assert bad.logprob_diff > ok.logprob_diff


def test_ctrl_c_names_the_checkpoint_and_the_rerun_resumes_quietly(tmp_path):
    """``forage train`` as a user runs it: Ctrl-C after the first checkpoint prints one line with
    its step and the command that resumes; the rerun says it resumes when it starts; neither run
    shows transformers' or peft's warnings and progress bars."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    args = [sys.executable, "-m", "forage.cli.app", "train", "--out", str(out), "--formats", "rag",
            "--per-format", "60", "--world-seeds", "1001", "--max-shots", "0",
            "--eval-data", str(Path(__file__).resolve().parents[2] / "data"),
            "--batch-size", "1", "--batch-tokens", "0", "--checkpoint-every", "1",
            "--check", "0", "--threads", "1"]
    # 60 planned steps: long enough that the interrupt lands while training, on any machine.
    # A shell's background job starts with SIGINT ignored (CI may run so); a user's terminal
    # delivers it: restore the default, as a terminal would have it.
    proc = subprocess.Popen([*args, "--max-steps", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = out / "checkpoint" / "state.json"
    deadline = time.monotonic() + 600
    while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted at step" in stdout and "resume with: forage train" in stdout, stdout
    assert state.is_file()
    step = json.loads(state.read_text())["step"]
    # The rerun resumes and stops early on the planned schedule (max steps may differ).
    rerun = subprocess.run([*args, "--max-steps", str(step + 2)], capture_output=True, text=True,
                           timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming from step" in rerun.stdout
    for text in (stderr, rerun.stderr):
        assert "Warning" not in text and "Converting" not in text and "it/s" not in text, text
