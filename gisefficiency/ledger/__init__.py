"""Ledger: the 台账 a bureau keeps from year to year, and progress to the policy's yearly targets.

Reads this year's ``Result`` and last year's ledger as staff returned it (``io.ledger.read_ledger``).
Returns:

- ``update(previous, result, *, year)`` → the ledger frame: every firm listed this year or before, its
  first-listed year, category per year, status (新列入 / 类别变化 / 继续列入 / 重新列入 / 已销号) with the
  reason and the numbers, staff columns carried untouched, deadlines computed from staff dates;
- ``target_progress(result, *, ledger=None)`` → one row per ``[[targets.yearly]]`` of the preset: what
  the data (or the ledger) measures against the goal.

Modules: ``columns`` (headers, statuses, staff columns), ``update`` (matching and carrying forward),
``targets`` (yearly targets).
"""

from gisefficiency.ledger.targets import target_progress
from gisefficiency.ledger.update import add_deadlines, update

__all__ = ["add_deadlines", "target_progress", "update"]
