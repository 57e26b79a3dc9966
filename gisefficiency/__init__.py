"""gisefficiency: 亩均论英雄 per-mu land efficiency for Zhejiang land and planning bureaus.

The public API, for notebooks and scripts::

    import gisefficiency as ge
    res = ge.run(ge.load_config("layers/sample/demo.toml"))
    res.parcels, res.firms, res.blocks      # frames indexed by id
    res.explore()                           # interactive map
"""

from gisefficiency.config import Config, config_from_dict, load_config
from gisefficiency.constants import M2_PER_MU
from gisefficiency.errors import ConfigError, CRSError, GisEfficiencyError, InputError, Problem
from gisefficiency.pipeline import run, write_all
from gisefficiency.planning import (
    block_firms,
    block_options,
    export_scenario,
    flagged_counts,
    policy_matrix,
    reblock,
    redevelop,
    run_policies,
    scenario_map,
    with_scenario,
)
from gisefficiency.result import Result
from gisefficiency.summary import summary_by

__version__ = "0.1.0"


def __getattr__(name: str):
    # Stage modules load on first use so that `import gisefficiency` stays quick.
    lazy = {
        "load_preset": ("gisefficiency.policy", "load_preset"),
        "list_presets": ("gisefficiency.policy", "list_presets"),
        "find_blocks": ("gisefficiency.blocks", "find_blocks"),
        "compare": ("gisefficiency.scenario", "compare"),
        "Scenario": ("gisefficiency.scenario", "Scenario"),
        "run_scenario": ("gisefficiency.scenario", "run_scenario"),
        "make_map": ("gisefficiency.maps", "make_map"),
        "build_report": ("gisefficiency.report", "build_report"),
        "generate_county": ("gisefficiency.sample", "generate_county"),
    }
    if name in lazy:
        import importlib

        module, attr = lazy[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gisefficiency' has no attribute {name!r}")


__all__ = [
    "M2_PER_MU",
    "CRSError",
    "Config",
    "ConfigError",
    "GisEfficiencyError",
    "InputError",
    "Problem",
    "Result",
    "block_firms",
    "block_options",
    "compare",
    "config_from_dict",
    "export_scenario",
    "find_blocks",
    "flagged_counts",
    "list_presets",
    "load_config",
    "load_preset",
    "policy_matrix",
    "reblock",
    "redevelop",
    "run",
    "run_policies",
    "scenario_map",
    "summary_by",
    "with_scenario",
    "write_all",
]
