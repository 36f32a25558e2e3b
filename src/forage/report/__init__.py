"""Presentation: what a sweep's results say, and how they look.

``results`` (the scored record of one run), ``statistics`` (bootstrap CIs, efficiency figures),
``paired`` (two strategies on the same questions: paired bootstrap, McNemar, sequential sample
sizes, equivalence, and the rule a claim's verdict follows),
``allocation`` (adaptive against the uniform frontier and the oracle) and ``allocation_report``
(its plots and HTML section), ``sweep_report`` (``results.json``, plots, ``report.html``),
``trace_html`` (one task tree as HTML) and ``styles`` (their CSS), the last two shared with the
service's viewer. Nothing here runs a model or a sweep (``forage.eval``).
"""
