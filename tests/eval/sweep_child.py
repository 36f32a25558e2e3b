"""A sweep run in a child process by the resume tests: RAG (two ladders) over a world, answered
by a FunctionLLM that logs every backend call to a file and takes ``delay`` seconds.

    python sweep_child.py WORLD_DIR OUT_DIR CALL_LOG DELAY
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path

from forage.eval.datasets import open_dataset
from forage.eval.journal import BackendIdentity, Journal
from forage.eval.sweep import Sweep
from forage.llm.base import LLMRequest
from forage.llm.cache import CallCache
from forage.llm.testing import FunctionLLM
from forage.runtime import registry


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_sweep(world: Path) -> Sweep:
    rag = registry.get("rag")
    wide = dataclasses.replace(rag, name="rag_wide", ladder=(4, 5))
    ds = open_dataset(world, limit=4)
    return Sweep([ds], [rag, wide], (400.0, 1500.0), (0,))


def main() -> None:
    world, out, log, delay = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def reply(request: LLMRequest) -> str:
        os.write(fd, (prompt_hash(request.text_for_counting()) + "\n").encode())
        time.sleep(delay)
        return "Paris" if len(request.text_for_counting()) % 2 else "the answer"

    llm = FunctionLLM(reply, model_id="fn")
    sweep = build_sweep(world)
    journal = Journal.open(out / "journal.sqlite", sweep.config(BackendIdentity.of(llm)))
    cache = CallCache(out / "cache.sqlite", "record")
    asyncio.run(sweep.run(llm=llm, journal=journal, cache=cache))
    journal.close()
    cache.close()


if __name__ == "__main__":
    main()
