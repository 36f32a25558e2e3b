"""Adaptive allocation: one budget for many questions, spent where it changes answers.

``policy``: the cascade's arithmetic (pure: who gets what next). ``cascade``: runs it on a backend,
rung by rung, journaling every step so an interrupted batch resumes without spending again.
Not here: the oracle and the comparison against uniform budgets (``forage.report.allocation``).
"""
