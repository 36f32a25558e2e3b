"""LoRA training of the embedded base model on the CPU, with checkpoints and resume.

``load_base(name)`` loads a registered embedded model's GGUF file (``forage.llm.models``) into
transformers (dequantized to float32: ``from_pretrained(folder, gguf_file=...)``);
``train(examples, settings, out)`` wraps it with a peft LoRA (``rank``, ``alpha``, the attention and
MLP projections by default) and trains on the completions only: each example is the prompt's
tokens followed by the completion's, tokenized apart as llama.cpp sees them at inference, and the
loss counts the completion tokens alone (prompt positions are labelled -100).

Deterministic for a seed: the data order is a seeded permutation per epoch (examples of similar
length batched together to save padding), the LoRA init and
dropout draw from ``torch.manual_seed(seed)``, and batches are built in a fixed order. Every
``checkpoint_every`` steps the adapter, the optimizer, the schedule and the loss history are saved
atomically to ``out/checkpoint``; ``train`` resumes from there when it finds one (the data order is
recomputed from the seed, so the run continues exactly where it stopped). A resumed run may set
``max_steps`` (the one setting allowed to differ from the checkpoint's) to stop early: it keeps
the learning-rate schedule of the planned run and ends at that step, or at once when the checkpoint
is already past it — the way to turn an interrupted long run into an adapter. ``on_progress`` is
called after each step with a ``Progress`` (tokens/s, loss, ETA); the CLI draws it.

Not here: building examples (``mixture``), writing the llama.cpp adapter (``export``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from forage.core.errors import ConfigError
from forage.llm.models import resolve_model
from forage.train.formats import Example

log = logging.getLogger(__name__)

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BASE_MODEL = "smollm2"


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    base: str = BASE_MODEL  # a registered embedded model (its GGUF file is the base)
    epochs: float = 1.0
    max_steps: int | None = None  # stop early (after this many optimizer steps)
    batch_size: int = 8
    lr: float = 2e-4
    warmup: int = 10
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    targets: tuple[str, ...] = TARGETS
    max_tokens: int = 1024  # longer examples are left out
    checkpoint_every: int = 50
    threads: int | None = None  # torch threads (None: torch's default)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.rank < 1 or self.epochs <= 0:
            raise ConfigError("batch size, rank and epochs must be positive")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max steps must be at least 1, not {self.max_steps}")
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint interval must be at least 1 step")

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    loss: float  # this step's mean completion-token loss
    tokens: int  # tokens processed so far in this session (prompt and completion)
    elapsed: float  # seconds in this session
    resumed_from: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class Result:
    steps: int
    losses: list[float] = field(default_factory=list)
    adapter_dir: Path | None = None
    resumed_from: int = 0
    skipped: int = 0  # examples left out for length

    @property
    def final_loss(self) -> float:
        tail = self.losses[-10:]
        return sum(tail) / len(tail) if tail else float("nan")


def base_path(name: str = BASE_MODEL) -> Path:
    return resolve_model(name).path


def load_base(name: str = BASE_MODEL) -> tuple[Any, Any]:
    """(model, tokenizer) of the registered embedded model ``name``, float32, from its GGUF."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = base_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                 dtype=torch.float32)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def with_lora(model: Any, settings: TrainSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                        lora_dropout=settings.dropout, target_modules=list(settings.targets),
                        bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def encode(tokenizer: Any, example: Example) -> tuple[list[int], list[int]]:
    """(input ids, labels): prompt then completion tokens, each tokenized on its own (as
    llama.cpp tokenizes the prompt and then generates); prompt positions labelled -100."""
    prompt = tokenizer(example.prompt, add_special_tokens=False).input_ids
    completion = tokenizer(example.completion, add_special_tokens=False).input_ids
    return prompt + completion, [-100] * len(prompt) + completion


def _batches(lengths: Sequence[int], settings: TrainSettings) -> list[list[int]]:
    """Example indices per optimizer step: a seeded permutation per epoch; within windows of 16
    batches, examples of similar length share a batch (less padding), and the batches of a
    window are shuffled again so length does not follow the step."""
    rng = random.Random(settings.seed)
    n = len(lengths)
    order: list[int] = []
    for _ in range(math.ceil(settings.epochs)):
        perm = list(range(n))
        rng.shuffle(perm)
        order += perm
    order = order[: int(round(n * settings.epochs))]
    size = settings.batch_size
    batches: list[list[int]] = []
    for w in range(0, len(order), 16 * size):
        window = sorted(order[w:w + 16 * size], key=lambda i: lengths[i])
        chunk = [window[i:i + size] for i in range(0, len(window), size)]
        rng.shuffle(chunk)
        batches += chunk
    return batches[: settings.max_steps] if settings.max_steps else batches


def _same_run(saved: dict[str, Any], settings: TrainSettings) -> bool:
    """Whether a checkpoint's settings are this run's, ``max_steps`` apart (stopping early)."""
    now = settings.to_dict()
    return {k: v for k, v in saved.items() if k != "max_steps"} == {
        k: v for k, v in now.items() if k != "max_steps"}


def _collate(items: Sequence[tuple[list[int], list[int]]], pad: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, (x, y) in enumerate(items):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def train(
    examples: Sequence[Example],
    settings: TrainSettings,
    out: str | Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    model_and_tokenizer: tuple[Any, Any] | None = None,
) -> tuple[Any, Any, Result]:
    """Train a LoRA on ``examples``; returns (peft model, tokenizer, result). Resumes from
    ``out/checkpoint`` when it exists; saves the final adapter to ``out/adapter``."""
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    model, tokenizer = model_and_tokenizer or load_base(settings.base)
    model = with_lora(model, settings)
    model.train()

    encoded, skipped = [], 0
    for e in examples:
        ids, labels = encode(tokenizer, e)
        if len(ids) > settings.max_tokens or all(y == -100 for y in labels):
            skipped += 1
            continue
        encoded.append((ids, labels))
    if not encoded:
        raise ConfigError("no training example fits within max_tokens")
    lengths = [len(ids) for ids, _ in encoded]
    batches = _batches(lengths, settings)
    total = len(batches)
    planned = total  # the schedule's length: a resumed run keeps its checkpoint's
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    ckpt = out / "checkpoint"
    state = None
    if (ckpt / "state.json").is_file():
        state = json.loads((ckpt / "state.json").read_text())
        if not _same_run(state["settings"], settings) or state["examples"] != len(encoded):
            raise ConfigError(f"{ckpt}: the checkpoint is of another run (settings or data "
                              "differ); delete it to start over")
        full = _batches(lengths, replace(settings, max_steps=None))
        saved_max = state["settings"].get("max_steps")
        planned = state.get("planned", min(len(full), saved_max or len(full)))
        batches = full[: settings.max_steps] if settings.max_steps else full[:planned]
        total = len(batches)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _schedule(s, planned, settings.warmup))

    result = Result(steps=0, skipped=skipped)
    if state is not None:
        set_peft_model_state_dict(model, torch.load(ckpt / "adapter.pt", weights_only=True))
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        torch.set_rng_state(torch.load(ckpt / "rng.pt", weights_only=True))
        result.steps = result.resumed_from = state["step"]
        result.losses = list(state["losses"])
        log.info("resuming from step %d of %d", result.steps, total)

    pad = tokenizer.pad_token_id
    start, tokens = time.monotonic(), 0
    for step in range(result.steps, total):
        batch = _collate([encoded[i] for i in batches[step]], pad)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        result.steps = step + 1
        result.losses.append(float(loss.detach()))
        tokens += int(batch["attention_mask"].sum())
        if on_progress:
            on_progress(Progress(step + 1, total, result.losses[-1], tokens,
                                 time.monotonic() - start, result.resumed_from))
        if (step + 1) % settings.checkpoint_every == 0 and step + 1 < total:
            _save_checkpoint(ckpt, model, optimizer, scheduler, settings, len(encoded), result,
                             get_peft_model_state_dict, planned)
    model.eval()
    result.adapter_dir = out / "adapter"
    model.save_pretrained(result.adapter_dir)
    (out / "losses.json").write_text(json.dumps(result.losses))
    shutil.rmtree(ckpt, ignore_errors=True)
    return model, tokenizer, result


def _save_checkpoint(ckpt: Path, model: Any, optimizer: Any, scheduler: Any,
                     settings: TrainSettings, n: int, result: Result, state_dict: Any,
                     planned: int) -> None:
    import torch

    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(state_dict(model), tmp / "adapter.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(torch.get_rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({
        "step": result.steps, "losses": result.losses, "settings": settings.to_dict(),
        "examples": n, "planned": planned}))
    old = ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if ckpt.exists():
        os.replace(ckpt, old)
    os.replace(tmp, ckpt)
    shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint at step %d", result.steps)


def greedy(model: Any, tokenizer: Any, prompt: str, *, max_new_tokens: int = 24,
           stop: Sequence[str] = ("\n",)) -> str:
    """The model's greedy continuation of ``prompt`` up to the first ``stop``."""
    import torch

    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False).input_ids])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    cut = min((text.index(s) for s in stop if s in text), default=len(text))
    return text[:cut]
