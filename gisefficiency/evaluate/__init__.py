"""Evaluate: apply a policy preset to the panel: score and grade, one verdict per unit, low-efficiency parcels.

Reads the panel of the metrics stage (``(eval_id, year)``), a ``Policy`` and the ``Links``. Returns an
``Evaluation``:

- ``grades``: ``(eval_id, year)`` → ``score, grade`` (A/B/C/D, N = not graded);
- ``verdicts``: index ``eval_id`` → reference-year ``score, grade``, ``disposal`` (category id or ""),
  ``disposal_zh/en``, ``in_scope, exempt, low_efficiency``, the preset's flags and the reason's codes;
- ``reasons(lang)`` / ``grade_reasons(lang)``: the reasons with their numbers, written on request for the
  rows asked, in the language asked.

``flag_parcels`` then marks low-efficiency parcels (``low_efficiency``, ``low_eff_reason_zh/en``).

Modules, in the order a verdict is made: ``policy`` (the preset's frozen objects and the TOML loader;
shipped presets in ``presets/``), ``rules`` (the condition language and its parser), ``contexts`` (the
panel values a condition reads, aligned to the rows judged), ``conditions`` (conditions over all rows at
once, with reasons), ``scoring`` (综合评价 score and class) with ``ranking`` (its numeric kernels: group
statistics and ranks), and ``verdicts`` (``evaluate`` and ``flag_parcels``).
"""

from gisefficiency.evaluate.policy import Category, Policy, list_presets, load_preset
from gisefficiency.evaluate.verdicts import Evaluation, evaluate, flag_parcels

__all__ = ["Category", "Evaluation", "Policy", "evaluate", "flag_parcels", "list_presets", "load_preset"]
