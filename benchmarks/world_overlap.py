"""How much of an evaluation world's phrasing the training worlds already contain, names masked.

    python benchmarks/world_overlap.py [--eval-seed 3] [--entities 400] [--questions 300] \
        [--hops 1-4]

The training worlds are the ones forage-small's mixture trains on (``MixtureSettings``' world
seeds, entities, questions and hops, always standard templates). The evaluation world is written
twice from the same seed and size: with standard templates (an in-template measurement) and with
held-out templates (``forage world --templates heldout``, a transfer measurement). For each, the
share of its whole-question forms and gold sub-question forms (``forage.data.world.overlap``:
entity names -> <E>, numbers -> <N>) that also occur in a training world, over distinct forms and
over items. Deterministic; no model; a second or two.
"""

from __future__ import annotations

import argparse

from forage.data.world import WorldSettings, generate_world, parse_hops
from forage.data.world.overlap import overlap
from forage.train.mixture import MixtureSettings


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-seed", type=int, default=3)
    ap.add_argument("--entities", type=int, default=400)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--hops", default="1-4")
    args = ap.parse_args()

    mix = MixtureSettings()
    training = [
        generate_world(WorldSettings(seed=s, entities=mix.world_entities, hops=mix.world_hops,
                                     questions=mix.world_questions))
        for s in mix.world_seeds
    ]  # fmt: skip
    lo, hi = mix.world_hops
    print(f"training worlds: seeds {', '.join(map(str, mix.world_seeds))}, "
          f"{mix.world_entities} entities, {mix.world_questions} questions, hops {lo}-{hi}")
    print(f"evaluation world: seed {args.eval_seed}, {args.entities} entities, "
          f"{args.questions} questions, hops {args.hops}")
    print("  templates   whole questions (forms / items)   sub-questions (forms / items)")
    for templates in ("standard", "heldout"):
        world = generate_world(WorldSettings(
            seed=args.eval_seed, entities=args.entities, hops=parse_hops(args.hops),
            questions=args.questions, templates=templates))  # fmt: skip
        o = overlap(world, training)
        print(f"  {templates:10s}  {o.questions:6.1%} / {o.question_items:6.1%}"
              f"                   {o.subquestions:6.1%} / {o.subquestion_items:6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
