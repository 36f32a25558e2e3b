"""Presentation: what a sweep's results say, and how they look.

``results`` (the scored record of one run), ``statistics`` (bootstrap CIs, efficiency figures),
``sweep_report`` (``results.json``, plots, ``report.html``) and ``trace_html`` (one task tree as
HTML, shared with the service's viewer). Nothing here runs a model or a sweep (``forage.eval``).
"""
