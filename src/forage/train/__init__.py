"""Training the embedded model for forage's own prompt formats (the optional ``forage[train]``).

``gold`` reads training-only sources into gold records; ``guard`` holds what may never be trained
on (every evaluation question, answer entity and paragraph; the evaluation world seeds);
``examples`` renders a record as training examples in each prompt format through the strategies'
own builders and the prompt layer's ``render_example``; ``calls`` relabels the model's own reader
calls from gold support; ``mixture`` chooses, balances and hashes the examples;
``trainer`` trains a LoRA on the CPU (torch, transformers, peft), from scratch or from an earlier
adapter (``adapter_init``); ``export`` writes the llama.cpp adapter and its manifest and checks
that llama.cpp reproduces the torch model.

Only ``trainer`` and ``export`` import torch/transformers/peft/gguf, and only when called.
Not here: the command line (``forage.cli.train``), loading an adapter at inference.
"""
