"""The frozen objects a policy preset loads into (see ``gisefficiency.policy`` and ``docs/presets.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from gisefficiency.rules import Condition


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict: preset values cannot be changed after loading (copy with ``dict(x)``)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("policy values are read-only; build a new preset instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))


@dataclass(frozen=True)
class Category:
    """A disposal category: ``id`` as stored in verdicts, labels, map colour, and whether it is low efficiency."""

    id: str
    zh: str
    en: str
    colour: str
    low_efficiency: bool = True


@dataclass(frozen=True)
class ClassBands:
    """A/B/C/D assignment: ``"percentile"`` shares of the ranked group, or ``"cutoff"`` minimum scores."""

    method: str
    shares: FrozenDict = field(default_factory=FrozenDict)
    cutoffs: FrozenDict = field(default_factory=FrozenDict)


@dataclass(frozen=True)
class ScoringGroup:
    """Weights, benchmarks, missing-data handling and class bands of one group (规上 / 规下 / 租赁)."""

    id: str
    zh: str
    en: str
    weights: FrozenDict
    benchmark: str = "mean"
    benchmarks: FrozenDict = field(default_factory=FrozenDict)
    benchmark_factor: float = 1.0
    missing: str = "zero"
    missing_by_indicator: FrozenDict = field(default_factory=FrozenDict)
    cap: float | None = None
    classes: ClassBands = field(default_factory=lambda: ClassBands("percentile"))


@dataclass(frozen=True)
class Adjustment:
    """A bonus (+) or penalty (-): ``"tenants"`` (first / each additional tenant) or ``"condition"``."""

    type: str
    zh: str
    en: str
    groups: tuple[str, ...] = ()
    first: float = 0.0
    additional: float = 0.0
    points: float = 0.0
    when: Condition | None = None


@dataclass(frozen=True)
class GradeRule:
    """Force a grade (``"N"``: not graded) where ``when`` holds; ``zh``/``en`` name the rule in reasons."""

    when: Condition
    grade: str
    zh: str = ""
    en: str = ""


@dataclass(frozen=True)
class Scoring:
    """How units are scored and graded A/B/C/D/N."""

    groups: FrozenDict
    industry_groups: FrozenDict = field(default_factory=FrozenDict)
    #: Industry group name -> (zh, en) label used in reasons (the name itself when not given).
    industry_labels: FrozenDict = field(default_factory=FrozenDict)
    negative: str = "clip"
    adjustments: tuple[Adjustment, ...] = ()
    not_graded: tuple[GradeRule, ...] = ()
    overrides: tuple[GradeRule, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A disposal rule: units where ``when`` holds get ``category`` (first matching rule wins)."""

    category: str
    when: Condition


@dataclass(frozen=True)
class Exemption:
    """Units where ``when`` holds are exempt from disposal; ``zh``/``en`` say why."""

    when: Condition
    zh: str
    en: str


@dataclass(frozen=True)
class Disposal:
    """Scope, exemptions and ordered rules of a low-efficiency rule set."""

    rules: tuple[Rule, ...]
    scope: Condition | None = None
    scope_zh: str = "认定范围"
    scope_en: str = "scope"
    exempt: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class FlagRule:
    """An extra yes/no column of the verdicts (e.g. ``two_high``)."""

    id: str
    zh: str
    en: str
    when: Condition


@dataclass(frozen=True)
class ParcelRule:
    """How parcels get ``low_efficiency``: any of the enabled tests."""

    any_firm_flagged: bool = True
    tax_per_mu_below: float | None = None
    idle: bool = False
    plot_ratio_below: float | None = None


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy preset (see ``docs/presets.md``)."""

    name: str
    title_zh: str
    title_en: str
    source: str
    path: str
    reference_year: int | None
    categories: FrozenDict
    emission_weights: FrozenDict
    scoring: Scoring | None
    disposal: Disposal | None
    flags: tuple[FlagRule, ...]
    targets: FrozenDict
    target_tax_per_mu: float | None
    tax_thresholds: tuple[float, ...]
    parcel_rule: ParcelRule

    @property
    def description_zh(self) -> str:
        return self.title_zh

    @property
    def description_en(self) -> str:
        return self.title_en


@dataclass(frozen=True)
class PresetInfo:
    """One line of :func:`list_presets`."""

    name: str
    description_zh: str
    description_en: str
    source: str
    path: str
