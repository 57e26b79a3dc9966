"""gisefficiency: 亩均论英雄 per-mu land efficiency for Zhejiang land and planning bureaus.

The public API, for notebooks and scripts::

    import gisefficiency as ge
    res = ge.run(ge.load_config("layers/sample/demo.toml"))
    res.parcels, res.firms, res.blocks      # frames indexed by id
    res.explore()                           # interactive map
"""

from gisefficiency.config import Config, config_from_dict, load_config
from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import ConfigError, CRSError, GisEfficiencyError, InputError, Problem
from gisefficiency.pipeline import run, run_years, write_all
from gisefficiency.result import Result
from gisefficiency.result.summary import summary_by
from gisefficiency.scenario.planning import (
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

__version__ = "0.1.0"


# Stage modules load on first use so that `import gisefficiency` stays quick.
_LAZY = {
    "load_preset": ("gisefficiency.evaluate", "load_preset"),
    "list_presets": ("gisefficiency.evaluate", "list_presets"),
    "find_blocks": ("gisefficiency.blocks", "find_blocks"),
    "compare": ("gisefficiency.scenario", "compare"),
    "Scenario": ("gisefficiency.scenario", "Scenario"),
    "run_scenario": ("gisefficiency.scenario", "run_scenario"),
    "make_map": ("gisefficiency.maps", "make_map"),
    "build_report": ("gisefficiency.report", "build_report"),
    "generate_county": ("gisefficiency.sample", "generate_county"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gisefficiency' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Tab completion in notebooks lists the lazily loaded names too.
    return sorted(set(globals()) | set(_LAZY))


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
    "run_years",
    "scenario_map",
    "summary_by",
    "with_scenario",
    "write_all",
]
