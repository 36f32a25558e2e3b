"""Continuing training from an earlier adapter (``forage train --init``).

``resolve_init(spec, base)`` finds the weights ``spec`` names and checks that they fit a run on the
registered base ``base``:

- a registered trained model (``forage-small``): its shipped GGUF adapter, whose manifest names
  the base;
- a ``forage train`` manifest (``<name>.json``): checked as ``--model`` checks it (format, base,
  sha256 of adapter and base); the peft weights the run kept in ``adapter/`` beside it when they
  are there, else the GGUF adapter it names;
- a peft folder (``adapter_model.safetensors``), or a GGUF adapter file.

``load_init(model, spec, settings)`` copies those LoRA weights into a peft model built with
``settings`` (same rank and adapted modules, else one ``ConfigError`` naming the difference). A
GGUF adapter is read back by undoing what ``export`` did: llama.cpp's tensor names become peft's,
and the q/k row permutation of ``lora_b`` is reversed, so ``write_adapter(load_init(...))``
gives the file back.

Not here: training (``trainer``), writing adapters (``export``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forage.core.errors import ConfigError, ForageError

log = logging.getLogger(__name__)

_GGUF_NAME = re.compile(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$")
PEFT_WEIGHTS = "adapter_model.safetensors"


@dataclass(frozen=True)
class InitSource:
    kind: str  # "peft" (a folder) or "gguf" (a file)
    path: Path
    base: str | None  # the registered base it was trained on, when known


def resolve_init(spec: str, base: str) -> InitSource:
    """The adapter ``spec`` names, checked against a run on ``base`` (see the module doc)."""
    from forage.llm.models import MODELS, adapter_file, resolve_model

    source: InitSource
    if spec in MODELS:
        model = MODELS[spec]
        if not model.adapter:
            raise ConfigError(f"--init {spec}: a base model has no adapter to continue from")
        gguf_file = adapter_file(model.adapter)
        source = InitSource("gguf", gguf_file, _manifest_base(gguf_file.with_suffix(".json")))
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise ConfigError(f"--init {spec}: no such adapter, manifest or folder")
        if path.is_dir():
            if not (path / PEFT_WEIGHTS).is_file():
                raise ConfigError(f"--init {spec}: the folder holds no {PEFT_WEIGHTS}")
            source = InitSource("peft", path, None)
        elif path.suffix == ".json":
            try:
                resolved = resolve_model(str(path))
            except ForageError as e:
                raise ConfigError(f"--init {spec}: {e}") from None
            assert resolved.adapter is not None
            kept = path.parent / "adapter"
            source = (InitSource("peft", kept, resolved.base) if (kept / PEFT_WEIGHTS).is_file()
                      else InitSource("gguf", resolved.adapter, resolved.base))
        elif path.suffix == ".gguf":
            source = InitSource("gguf", path, None)
        else:
            raise ConfigError(f"--init {spec}: expected a manifest (.json), a GGUF adapter "
                              "(.gguf) or a folder of peft weights")
    if source.base is not None and source.base != base:
        raise ConfigError(f"--init {spec}: trained on base {source.base!r}, but this run trains "
                          f"{base!r} (use --base {source.base})")
    return source


def _manifest_base(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["base"]["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def gguf_lora(path: str | Path, config: Any) -> tuple[dict[str, Any], float]:
    """``({peft parameter name: float32 array}, alpha)`` of a GGUF LoRA adapter, with the q/k
    permutation of ``lora_b`` undone (``config``: the base model's transformers config)."""
    import gguf
    import numpy as np

    from forage.train.export import TENSOR_NAMES, unpermute_rows

    modules = {v: k for k, v in TENSOR_NAMES.items()}
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as e:
        raise ConfigError(f"--init {path}: not a GGUF adapter ({e})") from None
    field = reader.fields.get(gguf.Keys.Adapter.LORA_ALPHA)
    if field is None:
        raise ConfigError(f"--init {path}: not a LoRA adapter (no {gguf.Keys.Adapter.LORA_ALPHA})")
    alpha = float(field.parts[field.data[0]][0])
    out: dict[str, Any] = {}
    for t in reader.tensors:
        m = _GGUF_NAME.match(t.name)
        if m is None or m.group(2) not in modules:
            raise ConfigError(f"--init {path}: unexpected tensor {t.name}")
        layer, base, which = int(m.group(1)), m.group(2), m.group(3)
        array = np.array(t.data, dtype=np.float32)
        if which == "b" and base in ("attn_q", "attn_k"):
            n = config.num_attention_heads if base == "attn_q" else config.num_key_value_heads
            array = unpermute_rows(array, n)
        name = f"base_model.model.model.layers.{layer}.{modules[base]}.lora_{which.upper()}.weight"
        out[name] = array
    return out, alpha


def load_init(model: Any, spec: str, settings: Any) -> InitSource:
    """Copy the LoRA weights ``spec`` names into ``model`` (a peft model built with
    ``settings``); refuse weights of another rank, alpha or set of modules."""
    import torch

    source = resolve_init(spec, settings.base)
    if source.kind == "peft":
        from safetensors.torch import load_file

        config = json.loads((source.path / "adapter_config.json").read_text(encoding="utf-8"))
        _same_shape(spec, config.get("r"), config.get("lora_alpha"), settings)
        weights = {k: v.float() for k, v in load_file(str(source.path / PEFT_WEIGHTS)).items()}
    else:
        arrays, alpha = gguf_lora(source.path, model.base_model.model.config)
        rank = next(iter(arrays.values())).shape[0 if "lora_A" in next(iter(arrays)) else 1]
        _same_shape(spec, rank, alpha, settings)
        weights = {k: torch.from_numpy(v) for k, v in arrays.items()}
    params = {_plain(n): p for n, p in model.named_parameters() if "lora_" in n}
    if set(weights) != set(params):
        missing = sorted(set(params) - set(weights))[:1] or sorted(set(weights) - set(params))[:1]
        raise ConfigError(f"--init {spec}: its adapted modules differ from this run's "
                          f"(--targets); first difference: {missing[0]}")
    with torch.no_grad():
        for name, value in weights.items():
            if params[name].shape != value.shape:
                raise ConfigError(f"--init {spec}: {name} has shape {tuple(value.shape)}, this "
                                  f"run's has {tuple(params[name].shape)}")
            params[name].copy_(value)
    log.info("continuing from %s (%s)", source.path, source.kind)
    return source


def _plain(name: str) -> str:
    """A peft parameter name without the adapter's name (``.default``)."""
    return name.replace(".default.", ".")


def _same_shape(spec: str, rank: object, alpha: object, settings: Any) -> None:
    if rank != settings.rank:
        raise ConfigError(f"--init {spec}: its LoRA rank is {rank}, this run's is "
                          f"{settings.rank} (use --rank {rank})")
    if alpha is not None and float(alpha) != float(settings.alpha):  # type: ignore[arg-type]
        raise ConfigError(f"--init {spec}: its LoRA alpha is {alpha}, this run's is "
                          f"{settings.alpha} (use --alpha {alpha})")
