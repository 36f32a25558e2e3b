"""LoRA training of the embedded base model on the CPU, with checkpoints and resume.

``load_base(name)`` loads a registered embedded model's GGUF file (``forage.llm.models``) into
transformers (dequantized to float32: ``from_pretrained(folder, gguf_file=...)``);
``train(examples, settings, out)`` wraps it with a peft LoRA (``rank``, ``alpha``, the attention and
MLP projections by default; or the LoRA of an earlier run, ``init``, to continue from) and trains on
the completions only: each example is the prompt's tokens followed by the completion's, tokenized
apart as llama.cpp sees them at inference, and the loss counts the completion tokens alone (prompt
positions are labelled -100).

Where the CPU goes: only a few per cent of the tokens of a prompt-format example are completion
tokens, so the language-model head (576 x 49k for SmolLM2) and the cross-entropy run at those
positions alone (``completion_loss``), never over the whole vocabulary at every position. The loss
is a mean per example, then a weighted mean over the batch (``format_weights``: a format's weight
no longer follows the length of its completions). A batch holds examples of similar length up to
``batch_tokens`` padded tokens (and at most ``batch_size`` examples); gradient checkpointing
(``checkpointing``) trades a second forward pass for activation memory.

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

from forage.core.errors import ConfigError, TrainingInterrupted
from forage.llm.models import resolve_model
from forage.train.examples import Example

log = logging.getLogger(__name__)

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BASE_MODEL = "smollm2"


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    base: str = BASE_MODEL  # a registered embedded model (its GGUF file is the base)
    epochs: float = 1.0
    max_steps: int | None = None  # stop early (after this many optimizer steps)
    batch_size: int = 16  # examples per step, at most
    batch_tokens: int = 2048  # padded tokens per step, at most (0: always batch_size examples)
    lr: float = 2e-4
    warmup: int = 10
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    targets: tuple[str, ...] = TARGETS
    max_tokens: int = 1024  # longer examples are left out
    checkpoint_every: int = 50
    threads: int | None = None  # torch threads (None: torch's default)
    format_weights: tuple[tuple[str, float], ...] = ()  # loss weight per format (default 1)
    checkpointing: bool = False  # gradient checkpointing
    init: str | None = None  # continue from this adapter (``adapter_init.resolve_init``)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.rank < 1 or self.epochs <= 0:
            raise ConfigError("batch size, rank and epochs must be positive")
        if self.batch_tokens < 0:
            raise ConfigError(f"batch tokens must be 0 or more, not {self.batch_tokens}")
        for fmt, w in self.format_weights:
            if not (math.isfinite(w) and w >= 0):
                raise ConfigError(f"the weight of format {fmt!r} must be a number >= 0, not {w}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max steps must be at least 1, not {self.max_steps}")
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint interval must be at least 1 step")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, not {self.threads}")

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["targets"] = list(self.targets)
        d["format_weights"] = {f: w for f, w in self.format_weights}
        return d

    def weight(self, fmt: str) -> float:
        return dict(self.format_weights).get(fmt, 1.0)


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    loss: float  # this step's mean completion-token loss
    tokens: int  # tokens processed so far in this session (prompt and completion, no padding)
    elapsed: float  # seconds in this session
    resumed_from: int = 0
    supervised: int = 0  # completion tokens (the ones that carry loss) so far in this session

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
    batches, examples of similar length share a batch (less padding) of at most ``batch_size``
    examples and ``batch_tokens`` padded tokens, and the batches of a window are shuffled again
    so length does not follow the step."""
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
        chunk = _fill(window, lengths, size, settings.batch_tokens)
        rng.shuffle(chunk)
        batches += chunk
    return batches[: settings.max_steps] if settings.max_steps else batches


def _fill(window: Sequence[int], lengths: Sequence[int], size: int, cap: int) -> list[list[int]]:
    """``window`` (sorted by length) cut into batches of at most ``size`` examples whose padded
    size (examples x longest) stays within ``cap`` tokens; an example longer than ``cap`` goes
    alone."""
    out: list[list[int]] = []
    batch: list[int] = []
    for i in window:
        longest = max([lengths[j] for j in batch] + [lengths[i]])
        if batch and (len(batch) == size or (cap and longest * (len(batch) + 1) > cap)):
            out.append(batch)
            batch = []
        batch.append(i)
    if batch:
        out.append(batch)
    return out


# Settings a resumed run may change: where to stop early, and how many threads compute it.
MAY_DIFFER_ON_RESUME = ("max_steps", "threads")


def _same_run(saved: dict[str, Any], settings: TrainSettings) -> bool:
    """Whether a checkpoint's settings are this run's, ``MAY_DIFFER_ON_RESUME`` apart."""
    now = settings.to_dict()
    return {k: v for k, v in saved.items() if k not in MAY_DIFFER_ON_RESUME} == {
        k: v for k, v in now.items() if k not in MAY_DIFFER_ON_RESUME}


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


def completion_loss(model: Any, batch: dict[str, Any], weights: Any) -> Any:
    """The batch's loss: each example's mean cross-entropy over its completion tokens, then the
    ``weights``-weighted mean over examples. The transformer runs over every position (the
    completion attends to its prompt); the language-model head and the softmax run only at the
    positions whose next token is a completion token."""
    import torch
    import torch.nn.functional as F

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(input_ids=batch["input_ids"],
                          attention_mask=batch["attention_mask"]).last_hidden_state
    target = batch["labels"][:, 1:]
    keep = target != -100
    logits = causal.lm_head(hidden[:, :-1][keep]).float()
    ce = F.cross_entropy(logits, target[keep], reduction="none")
    rows = keep.nonzero()[:, 0]
    n = target.shape[0]
    per_example = torch.zeros(n, dtype=ce.dtype).index_add(0, rows, ce)
    counts = keep.sum(dim=1).clamp(min=1)
    per_example = per_example / counts
    return (weights * per_example).sum() / weights.sum().clamp(min=1e-12)


def _difference(state: dict[str, Any], settings: TrainSettings, examples: int) -> str:
    """What differs between a checkpoint and this run, for the error that refuses it."""
    saved, now = state["settings"], settings.to_dict()
    diffs = [f"{k}: {saved.get(k)!r} then, {now.get(k)!r} now"
             for k in sorted(set(saved) | set(now))
             if k not in MAY_DIFFER_ON_RESUME and saved.get(k) != now.get(k)]
    if state["examples"] != examples:
        diffs.append(f"examples: {state['examples']} then, {examples} now")
    return "; ".join(diffs) or "settings or data differ"


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
    on_start: Callable[[int, int], None] | None = None,
    model_and_tokenizer: tuple[Any, Any] | None = None,
) -> tuple[Any, Any, Result]:
    """Train a LoRA on ``examples``; returns (peft model, tokenizer, result). Resumes from
    ``out/checkpoint`` when it exists (``on_start(resumed_from, total)`` is called once the
    schedule is known); saves the final adapter to ``out/adapter``. Ctrl-C saves a checkpoint
    of the last finished step and raises ``TrainingInterrupted``."""
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    model, tokenizer = model_and_tokenizer or load_base(settings.base)
    model = with_lora(model, settings)
    if settings.init:
        from forage.train.adapter_init import load_init

        load_init(model, settings.init, settings)
    if settings.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()

    encoded, weights, skipped = [], [], 0
    for e in examples:
        ids, labels = encode(tokenizer, e)
        if len(ids) > settings.max_tokens or all(y == -100 for y in labels):
            skipped += 1
            continue
        encoded.append((ids, labels))
        weights.append(settings.weight(e.format))
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
            raise ConfigError(f"{ckpt}: the checkpoint is of another run ("
                              f"{_difference(state, settings, len(encoded))}); "
                              "delete it to start over")
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

    if on_start:
        on_start(result.resumed_from, total)
    pad = tokenizer.pad_token_id
    start, tokens, supervised = time.monotonic(), 0, 0
    step = result.steps
    try:
        for step in range(result.steps, total):
            batch = _collate([encoded[i] for i in batches[step]], pad)
            w = torch.tensor([weights[i] for i in batches[step]], dtype=torch.float32)
            loss = completion_loss(model, batch, w)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps = step + 1
            result.losses.append(float(loss.detach()))
            tokens += int(batch["attention_mask"].sum())
            supervised += int((batch["labels"] != -100).sum())
            if on_progress:
                on_progress(Progress(step + 1, total, result.losses[-1], tokens,
                                     time.monotonic() - start, result.resumed_from, supervised))
            if (step + 1) % settings.checkpoint_every == 0 and step + 1 < total:
                _save_checkpoint(ckpt, model, optimizer, scheduler, settings, len(encoded),
                                 result, get_peft_model_state_dict, planned)
    except KeyboardInterrupt:
        # The step in flight is lost; every finished one is kept for the rerun to resume from.
        optimizer.zero_grad(set_to_none=True)
        if result.steps > result.resumed_from:
            _save_checkpoint(ckpt, model, optimizer, scheduler, settings, len(encoded), result,
                             get_peft_model_state_dict, planned)
        raise TrainingInterrupted(result.steps, total, ckpt) from None
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
