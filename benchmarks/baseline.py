"""The analyst's chain: the same outputs made the way a capable analyst would without gisefficiency.

It reads the files ``benchmarks/county.py`` writes (the sample county's files) with the libraries such an
analyst reaches for, each with its defaults, one step after the other:

``read``
    ``geopandas.read_file`` of ``parcels.gpkg`` and ``pandas.read_excel`` of ``firms.xlsx`` (default engine,
    openpyxl; ``header=1`` for the title row). The land rows are not used: the chain links by parcel id only.
``metrics``
    Duplicate ids dropped and geometries made valid; the reference year's firm rows summed per parcel with
    ``groupby`` and merged onto the parcels; tax, value added and energy per mu (certificate area, else the
    drawn one); tax per mu per firm (``groupby`` over the firm's parcels); parcels below 5 万元/亩 flagged
    (Suichang 2022's upgrade threshold).
``blocks``
    ``libpysal.graph.Graph.build_fuzzy_contiguity`` over the flagged parcels (a 15 m buffer each side: parcels
    within 30 m are neighbours), its connected components, ``GeoDataFrame.dissolve`` per component, blocks of
    at least 2 parcels and 50 mu kept.
``clusters``
    Fuzzy contiguity over every parcel with a tax per mu, row-standardised, ``esda.Moran_Local`` with the same
    permutations and seed as ours, ``esda.fdr`` at 0.05, quadrant labels for the significant parcels.
``heights``
    ``rasterstats.zonal_stats`` (max, mean, sum, count) of ``building_height.tif`` per parcel: the tallest
    building and a plot ratio (heights / storey height x cell area / parcel area).
``gpkg``
    ``to_file`` GeoPackage: the parcels with every column above, and the blocks.
``map``
    ``GeoDataFrame.explore`` of the parcels coloured by tax per mu, the blocks on top, saved to HTML.

It does less than ``gisefficiency run`` (no linking by land rows, holders or points, no tenants, no rules,
grades or reasons, no scenarios, no rasters, no report, no Excel lists), so our total is the larger job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

#: Step names in the order they run.
STEPS: tuple[str, ...] = ("read", "metrics", "blocks", "clusters", "heights", "gpkg", "map")
M2_PER_MU = 10_000 / 15
YEAR = 2021
LOW_TAX_PER_MU = 5.0
GAP_M = 30.0
MIN_AREA_MU = 50.0
FDR = 0.05
SEED = 12345
STOREY_HEIGHT_M = 5.0


def run_analyst(folder: Path, out: Path, *, permutations: int, skip: Iterable[str] = (), cap_s: float | None = None,
                report: Callable[[dict[str, Any]], None] | None = None) -> dict[str, float]:
    """Run the chain on a county folder; return seconds per step.

    Parameters
    ----------
    folder
        A county written by ``county.ensure_county`` (with ``firms.xlsx``).
    out
        Folder for ``analyst.gpkg`` and ``analyst_map.html``.
    permutations
        Conditional permutations of ``Moran_Local``.
    skip
        Steps to leave out (a step capped for its run time); the later steps go on without its columns.
    cap_s
        Seconds after which the heights step (a loop over parcels) stops and its time is extrapolated from
        the parcels done; the gpkg and map then go on without its columns. Other steps are capped by the
        parent (``run.py``), which stops the process.
    report
        Called with ``{"start": step}`` before and ``{"step": step, "s": seconds}`` after each step.
    """
    import geopandas as gpd
    import pandas as pd

    report = report or (lambda _line: None)
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {}
    times: dict[str, float] = {}

    def read() -> None:
        state["parcels"] = gpd.read_file(folder / "parcels.gpkg", layer="parcels")
        # pandas' default engine for .xlsx (openpyxl) is what the analyst gets without asking.
        state["firms"] = pd.read_excel(folder / "firms.xlsx", header=1, engine="openpyxl")

    def metrics() -> None:
        parcels = state["parcels"].drop_duplicates("地块编号").reset_index(drop=True)
        parcels["geometry"] = parcels.geometry.make_valid()
        firms = state["firms"]
        ref = firms[firms["年度"] == YEAR]
        sums = ref.groupby("地块编号")[["实缴税金(万元)", "工业增加值(万元)", "综合能耗(吨标煤)"]].sum(min_count=1)
        parcels = parcels.merge(sums, left_on="地块编号", right_index=True, how="left")
        parcels["area_mu"] = parcels["证载面积(平方米)"].fillna(parcels.geometry.area) / M2_PER_MU
        parcels["tax_per_mu"] = parcels["实缴税金(万元)"] / parcels["area_mu"]
        parcels["va_per_mu"] = parcels["工业增加值(万元)"] / parcels["area_mu"]
        parcels["tce_per_mu"] = parcels["综合能耗(吨标煤)"] / parcels["area_mu"]
        parcels["low"] = parcels["tax_per_mu"] < LOW_TAX_PER_MU
        land = ref.merge(parcels[["地块编号", "area_mu"]], on="地块编号", how="left")
        per_firm = land.groupby("统一社会信用代码")[["实缴税金(万元)", "area_mu"]].sum(min_count=1)
        per_firm["tax_per_mu"] = per_firm["实缴税金(万元)"] / per_firm["area_mu"]
        state["parcels"], state["per_firm"] = parcels, per_firm

    def blocks() -> None:
        from libpysal.graph import Graph

        parcels = state["parcels"]
        low = parcels[parcels["low"]].reset_index(drop=True)
        graph = Graph.build_fuzzy_contiguity(low, buffer=GAP_M / 2)
        low["block"] = graph.component_labels.to_numpy()
        found = low.dissolve("block", aggfunc={"area_mu": "sum", "地块编号": "count"})
        found = found[(found["地块编号"] >= 2) & (found["area_mu"] >= MIN_AREA_MU)]
        state["blocks"] = found.rename(columns={"地块编号": "n_parcels"})

    def clusters() -> None:
        import esda
        import numpy as np
        from libpysal.graph import Graph

        parcels = state["parcels"]
        valued = parcels[parcels["tax_per_mu"].notna()]
        graph = Graph.build_fuzzy_contiguity(valued.reset_index(drop=True), buffer=GAP_M / 2).transform("r")
        lisa = esda.Moran_Local(valued["tax_per_mu"].to_numpy(), graph, permutations=permutations, seed=SEED)
        significant = lisa.p_sim <= esda.fdr(lisa.p_sim, FDR)
        labels = np.array(["", "high-high", "low-high", "low-low", "high-low"], dtype=object)[lisa.q]
        parcels.loc[valued.index, "cluster"] = np.where(significant, labels, "not significant")

    def heights() -> None:
        import rasterio
        from rasterstats import gen_zonal_stats

        parcels = state["parcels"]
        # rasterstats works one parcel after the other: past the cap the rest is extrapolated, linearly in
        # parcels (each parcel costs a window read and a small rasterisation, the same work at any size).
        start, rows = time.perf_counter(), []
        for row in gen_zonal_stats(parcels.geometry.to_list(), str(folder / "building_height.tif"),
                                   stats=["max", "mean", "sum", "count"]):
            rows.append(row)
            if cap_s is not None and len(rows) % 200 == 0 and time.perf_counter() - start > cap_s:
                state["capped"] = {"measured_s": time.perf_counter() - start, "done": len(rows), "of": len(parcels),
                                   "method": "linear in parcels: measured seconds x all parcels / parcels done"}
                return
        stats = pd.DataFrame(rows, index=parcels.index)
        with rasterio.open(folder / "building_height.tif") as src:
            cell_m2 = abs(src.transform.a * src.transform.e)
        parcels["height_max_m"] = stats["max"]
        parcels["plot_ratio"] = stats["sum"] / STOREY_HEIGHT_M * cell_m2 / parcels.geometry.area

    def gpkg() -> None:
        path = out / "analyst.gpkg"
        path.unlink(missing_ok=True)
        state["parcels"].to_file(path, layer="parcels", driver="GPKG")
        if "blocks" in state:
            state["blocks"].reset_index().to_file(path, layer="blocks", driver="GPKG")

    def map_html() -> None:
        m = state["parcels"].explore(column="tax_per_mu", tooltip=["地块编号", "tax_per_mu"], name="地块")
        if "blocks" in state:
            state["blocks"].explore(m=m, color="red", name="连片区块")
        m.save(out / "analyst_map.html")

    work = {"read": read, "metrics": metrics, "blocks": blocks, "clusters": clusters, "heights": heights,
            "gpkg": gpkg, "map": map_html}
    skipped = set(skip)
    for name in STEPS:
        if name in skipped:
            continue
        report({"start": name})
        start = time.perf_counter()
        work[name]()
        times[name] = time.perf_counter() - start
        capped = state.pop("capped", None)
        if capped is not None:
            times[name] = capped["measured_s"] * capped["of"] / capped["done"]
        report({"step": name, "s": times[name], **({"capped": capped} if capped else {})})
    return times


def main(argv: list[str]) -> None:
    """``python baseline.py FOLDER OUT LINES PERMUTATIONS CAP_S [SKIP,...]``: the child process ``run.py`` starts.

    Each step's start and seconds go to the LINES file as JSON lines as they happen, so the parent can stop a
    step that runs past its cap and still keep the steps done.
    """
    folder, out, lines = Path(argv[0]), Path(argv[1]), Path(argv[2])
    skip = argv[5].split(",") if len(argv) > 5 and argv[5] else []

    def report(line: dict[str, Any]) -> None:
        with lines.open("a", encoding="utf-8") as f:
            f.write(json.dumps({**line, "t": time.time()}) + "\n")

    run_analyst(folder, out, permutations=int(argv[3]), cap_s=float(argv[4]), skip=skip, report=report)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
