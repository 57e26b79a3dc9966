"""Scenario: what closing or redeveloping a selection of land frees and yields, and planners' helpers.

Reads a ``Result`` and a ``Scenario`` (a selection: blocks, parcels, firms or a drawn polygon, and a target
tax and energy per mu for the new use). Returns a ``ScenarioResult``: freed land (mu), energy (tce), tax lost,
tax and energy at the target, the county's per-mu figures before and after, and breakdowns.

Modules: ``freed`` (``Scenario``, ``run_scenario``, ``compare``), ``planning`` (short calls for notebooks:
``reblock``, ``block_options``, ``redevelop``, ``export_scenario``, ``run_policies``, ``policy_matrix``).
"""

from gisefficiency.scenario.freed import Scenario, ScenarioResult, compare, run_scenario

__all__ = ["Scenario", "ScenarioResult", "compare", "run_scenario"]
