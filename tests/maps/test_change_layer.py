"""The change layer of a multi-year run: class codes from parcels["change"], legend in zh and en."""

from __future__ import annotations

import pandas as pd

from gisefficiency.maps.layers import LAYERS, change_classes, parcel_layers


def test_change_codes_and_legend():
    values = pd.Series(["newly_low", "", "recovered", "still_low", None, "no_data_now"], index=list("abcdef"))
    spec = change_classes(values, "zh", years=(2021, 2023))
    assert spec["codes"].tolist() == [0, -1, 2, 1, -1, 3]  # unchanged and unknown parcels are not drawn
    assert spec["labels"] == ["新增低效", "持续低效", "低效转出", "原低效、现无数据"]
    assert spec["title"] == "低效用地变化 2021→2023"
    assert change_classes(values, "en")["labels"] == ["newly low-efficiency", "still low-efficiency", "recovered",
                                                      "was low, no data now"]


def test_change_layer_only_when_the_column_exists():
    parcels = pd.DataFrame({"change": ["newly_low", ""]}, index=pd.Index(["p1", "p2"], name="parcel_id"))
    parcels.attrs["change_years"] = (2020, 2023)
    specs = {s["key"]: s for s in parcel_layers(parcels, None, LAYERS, "en")}
    assert specs["change"]["name"] == "Low-efficiency change 2020→2023"
    assert "change" not in {s["key"] for s in parcel_layers(parcels.drop(columns="change"), None, LAYERS, "en")}
