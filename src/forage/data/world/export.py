"""The generated world as files: FlashRAG-style question JSONL, a corpus JSONL and a summary.

``world_files(world)`` returns ``{file name: text}`` for ``dev.jsonl``, ``test.jsonl``,
``corpus.jsonl`` and ``world.json``; the same world always gives the same text, byte for byte.
A question record is ``{id, question, golden_answers, metadata: {type, hops, decomposition
[{question, answer}], relations, supporting_facts {title[], sent_id[]}, context {title[],
sentences[][]}}}``: the shape of the shared HotpotQA file, so any FlashRAG reader loads it.

Not here: generation (``forage.data.world``), writing to disk (the CLI).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forage.data.world.questions import SPLITS, WorldQuestion

if TYPE_CHECKING:
    from forage.data.world.model import World

FORMAT = "forage-world/1"


def question_record(world: World, q: WorldQuestion) -> dict[str, object]:
    """One question in FlashRAG-style JSON."""
    docs = world.documents
    return {
        "id": q.id,
        "question": q.text,
        "golden_answers": [q.answer],
        "metadata": {
            "type": q.type,
            "hops": q.hops,
            "decomposition": [{"question": s, "answer": a} for s, a in q.decomposition],
            "relations": list(q.relations),
            "supporting_facts": {
                "title": [docs[e].title for e, _ in q.support],
                "sent_id": [i for _, i in q.support],
            },
            "context": {
                "title": [docs[e].title for e in q.context],
                "sentences": [list(docs[e].sentences) for e in q.context],
            },
        },
    }


def _jsonl(rows: Sequence[Mapping[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def summary(world: World) -> dict[str, object]:
    """Settings, seed and counts: what ``world.json`` holds."""
    qs = world.questions
    return {
        "format": FORMAT,
        "seed": world.settings.seed,
        "settings": world.settings.to_dict(),
        "counts": {
            "entities": len(world.entities),
            "entities_by_kind": dict(sorted(Counter(e.kind for e in world.entities).items())),
            "documents": len(world.documents),
            "questions": {split: len(world.split(split)) for split in SPLITS},
            "questions_by_type": dict(sorted(Counter(q.type for q in qs).items())),
            "bridge_questions_by_hops": {
                str(h): n
                for h, n in sorted(Counter(q.hops for q in qs if q.type == "bridge").items())
            },
        },
    }


def world_files(world: World) -> dict[str, str]:
    """``{file name: text}`` for every output file."""
    files = {
        f"{split}.jsonl": _jsonl([question_record(world, q) for q in world.split(split)])
        for split in SPLITS
    }
    files["corpus.jsonl"] = _jsonl([d.document.to_dict() for d in world.documents.values()])
    files["world.json"] = json.dumps(summary(world), indent=2, ensure_ascii=False) + "\n"
    return files


def write_world(world: World, folder: Path) -> Path:
    """Write every output file of ``world`` into ``folder`` (created if needed, UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in world_files(world).items():
        (folder / name).write_bytes(text.encode("utf-8"))
    return folder
