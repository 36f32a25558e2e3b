"""The prompt layer: prompts as data, one renderer per profile, and each shared format's parser.

``spec`` (``PromptSpec``, ``Block``, the ``Title: text`` passage format), ``render``
(``render(spec, profile) -> LLMRequest``, ``render_example`` for training pairs), ``parse`` (the
reply formats several prompts share: a short answer, the ``So the answer is:`` marker),
``exemplars`` (few-shot material from a dev split), and the prompts several strategies share, each
with the parser of its reply beside it: ``reader`` (the flat reader, ``flat_reader_prompt``),
``queries`` (the next search query, ``clean_query``), ``verifier`` (does a passage support an
answer, ``yes_score``). Depends on ``forage.core`` and ``forage.llm.base`` only.

Not here: what one strategy alone asks (its ``*_prompt`` builder and reply parser live next to it:
``strategies.react``, ``hierarchy.tree_prompts``, ...), sending requests.
"""
