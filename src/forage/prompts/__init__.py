"""The prompt layer: prompts as data and one renderer per profile.

``spec`` (``PromptSpec``, ``Block``, the ``Title: text`` passage format), ``render``
(``render(spec, profile) -> LLMRequest``, ``render_example`` for training pairs), ``parse`` (reading
short answers, markers and queries from replies), ``common`` (the reader prompt) and ``exemplars``
(few-shot material from a dev split). Depends on ``forage.core`` and ``forage.llm.base`` only.

Not here: what each strategy asks (its ``*_prompt`` builder lives next to it), sending requests.
"""
