"""building_stats read band by band from a GeoTIFF: the same frame, to the bit, as the in-memory path
(``zonal_stats(max, coverage)`` joined to ``plot_ratio``, which gather every parcel cell of the whole array),
and the windowed reader and band-by-band rasterisation it rests on."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

import gisefficiency.raster.zonal as zonal
from gisefficiency.core.errors import CRSError, InputError
from gisefficiency.io.raster import RasterWindows, open_raster_windows, read_raster
from gisefficiency.raster import RasterData, building_stats, plot_ratio, zonal_stats
from gisefficiency.raster.grid import Grid, centre_spans, edges_by_band, polygon_edges

X0, Y0 = 500_000.0, 3_000_000.0
CRS = "EPSG:4549"


def write_tif(path, array, transform, *, nodata, tile: int | None = 16):
    """A deflate GeoTIFF, tiled ``tile`` x ``tile`` (None: strips)."""
    layout = {"tiled": True, "blockxsize": tile, "blockysize": tile} if tile else {}
    with rasterio.open(path, "w", driver="GTiff", height=array.shape[0], width=array.shape[1], count=1,
                       dtype=array.dtype, crs=CRS, transform=transform, nodata=nodata, compress="deflate",
                       **layout) as dst:
        dst.write(array, 1)
    return path


def in_memory(parcels, raster, storey_height_m):
    """The in-memory path the pipeline used before: two gathers of the whole array, joined."""
    stats = zonal_stats(parcels, raster, stats=("max", "coverage")).rename(
        columns={"max": "height_max_m", "coverage": "height_coverage_share"})
    return stats.join(plot_ratio(parcels, raster, storey_height_m=storey_height_m))


def county(seed: int):
    """A 100 x 120 raster of 5 m cells (16 x 16 tiles, bands of 16 rows in the tests) and 80 parcels.

    Heights repeat over blocks (runs of equal values) with scattered one-off values (odd float32 values
    too), nodata (-9999) and NaN cells, and a north-east corner of nodata no parcel touches (its tiles are
    never read). Parcels: random discs crossing band and tile edges, overlapping each other; a ring with a
    hole; a multipolygon; parcels smaller than a cell; one straddling the west edge; one outside.
    """
    rng = np.random.default_rng(seed)
    blocks = rng.choice([0.0, 0.0, 3.0, 4.4, 12.0, 25.5, 7.5, -9999.0], size=(20, 24))
    heights = np.kron(blocks, np.ones((5, 5))).astype(np.float32)
    spots = rng.random(heights.shape) < 0.08
    heights[spots] = rng.choice([np.nan, -9999.0, 0.1, 13.7, 1e-4, 33.3, -2.0], size=spots.sum())
    heights[:40, 80:] = -9999.0
    transform = Affine(5.0, 0, X0, 0, -5.0, Y0 + 500)
    centres = np.column_stack([rng.uniform(0, 390, 80), rng.uniform(0, 500, 80)])
    geoms = [shapely.Point(c).buffer(r, quad_segs=5) for c, r in zip(centres, rng.uniform(1, 45, 80), strict=True)]
    geoms[0] = shapely.Point(200, 250).buffer(70).difference(shapely.Point(200, 250).buffer(30))
    geoms[1] = shapely.MultiPolygon([shapely.box(3, 3, 41, 27), shapely.box(300, 60, 380, 96)])
    geoms[2] = shapely.box(101, 201, 103, 203)  # inside one cell, no cell centre: the fallback cell
    geoms[3] = shapely.box(122.6, 7.6, 124.4, 9.4)
    geoms[4] = shapely.box(-30, 100, 12, 180)  # half west of the raster
    geoms[5] = shapely.box(1000, 1000, 1050, 1050)  # outside
    geoms[6] = shapely.box(-20, -20, -18, -18)  # small and outside: no fallback cell either
    parcels = gpd.GeoDataFrame(
        {"land_mu": np.where(rng.random(80) < 0.5, rng.uniform(0.5, 20, 80), np.nan),
         "floor_area_m2": np.where(rng.random(80) < 0.3, rng.uniform(100, 9000, 80), np.nan)},
        geometry=geoms, crs=CRS, index=pd.Index([f"P{k}" for k in range(80)], name="parcel_id"))
    parcels = parcels.set_geometry(parcels.translate(X0, Y0))
    return parcels, RasterData(heights, transform, CRS, -9999.0)


@pytest.fixture
def bands_of_16(monkeypatch):
    monkeypatch.setattr(zonal, "BAND_ROWS", 16)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_file_read_by_bands_equals_the_in_memory_path(tmp_path, bands_of_16, monkeypatch, seed):
    parcels, raster = county(seed)
    path = write_tif(tmp_path / "h.tif", raster.array, raster.transform, nodata=-9999.0)
    windows = []
    read = RasterWindows.read

    def spy(self, rows, cols, *, out=None):
        windows.extend((rows, c) for c in cols)
        return read(self, rows, cols, out=out)

    monkeypatch.setattr(RasterWindows, "read", spy)
    out = building_stats(parcels, path, storey_height_m=3.5)
    expected = in_memory(parcels, read_raster(path), 3.5)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    # the cases the county sets up are there
    assert out.loc["P2", "cells"] == 1 and out.loc["P3", "cells"] == 1
    assert out.loc["P5", "cells"] == 0 and np.isnan(out.loc["P5", "plot_ratio_est"])
    assert out.loc["P6", "cells"] == 0
    assert out["height_max_m"].notna().sum() > 60
    # bands of 16 rows, windows of whole 16-cell tiles; the tiles no parcel touches are not read
    assert len({rows for rows, _ in windows}) > 3
    assert all(r0 % 16 == 0 and (r1 - r0 == 16 or r1 == 100) for (r0, r1), _ in windows)
    assert all(c0 % 16 == 0 and (c1 % 16 == 0 or c1 == 120) for _, (c0, c1) in windows)
    read_cells = sum((r1 - r0) * (c1 - c0) for (r0, r1), (c0, c1) in windows)
    assert read_cells < raster.array.size


def test_parcels_in_groups_north_to_south_give_the_same_frame(tmp_path, bands_of_16, monkeypatch):
    # 80 parcels in groups of 7: bands where groups meet are read once for each group
    monkeypatch.setattr(zonal, "GROUP_PARCELS", 7)
    parcels, raster = county(8)
    path = write_tif(tmp_path / "h.tif", raster.array, raster.transform, nodata=-9999.0)
    pd.testing.assert_frame_equal(building_stats(parcels, path, storey_height_m=4.0),
                                  in_memory(parcels, raster, 4.0), check_exact=True)


def test_in_memory_raster_gives_the_same_frame(bands_of_16):
    parcels, raster = county(4)
    pd.testing.assert_frame_equal(building_stats(parcels, raster, storey_height_m=9.0),
                                  in_memory(parcels, raster, 9.0), check_exact=True)


def test_striped_file_and_integer_heights(tmp_path, bands_of_16):
    parcels, raster = county(5)
    heights = np.nan_to_num(raster.array, nan=-9999.0)
    heights = np.where(heights < 0, 255, np.round(heights)).astype(np.uint8)  # 255 = nodata
    path = write_tif(tmp_path / "strips.tif", heights, raster.transform, nodata=255, tile=None)
    assert open_raster_windows(path).block_shape[1] == 120
    pd.testing.assert_frame_equal(building_stats(parcels, path),
                                  in_memory(parcels, read_raster(path), 3.0), check_exact=True)


def test_hand_computed_from_a_file(tmp_path):
    # 10 m cells, rows from the north: a 12 m building on the west column of parcel "half"
    heights = np.array([[12, 0, 6, -1], [12, 0, 0, -1]], dtype=np.float32)
    path = write_tif(tmp_path / "small.tif", heights, Affine(10.0, 0, X0, 0, -10.0, Y0 + 20), nodata=-1.0,
                     tile=None)
    parcels = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 20),
                                         shapely.box(X0 + 20, Y0, X0 + 40, Y0 + 20)], crs=CRS,
                               index=pd.Index(["half", "patchy"], name="parcel_id"))
    out = building_stats(parcels, path)
    # half: 4 valid cells, 2 under 12 m = 4 storeys: 400 m² x 8 storeys / 4 cells = 800 m², ratio 2
    assert out.loc["half", "height_max_m"] == 12.0 and out.loc["half", "building_cells"] == 2
    assert out.loc["half", "floor_area_est_m2"] == pytest.approx(800.0)
    # patchy: 6 m and 0 m valid, two nodata: coverage 1/2, 2 storeys on 1 of 2 valid cells: 400 m²
    assert out.loc["patchy", "height_coverage_share"] == 0.5
    assert out.loc["patchy", "floor_area_est_m2"] == pytest.approx(400.0)
    assert out.loc["patchy", "mean_height_m"] == 6.0


def test_parcels_in_another_crs_are_reprojected(tmp_path):
    parcels, raster = county(6)
    path = write_tif(tmp_path / "h.tif", raster.array, raster.transform, nodata=-9999.0)
    utm = parcels.to_crs("EPSG:32650")
    out = building_stats(utm, path)
    expected = in_memory(utm, raster, 3.0)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    assert out["cells"].sum() > 1000
    with pytest.raises(CRSError, match="parcels are in WGS 84 / UTM zone 50N"):
        building_stats(utm, path, reproject=False)
    with pytest.raises(CRSError, match="the parcels have no CRS"):
        building_stats(parcels.set_crs(None, allow_override=True), path)


def test_unreadable_file_and_bad_storeys(tmp_path):
    parcels, _ = county(7)
    with pytest.raises(InputError, match="cannot read raster"):
        building_stats(parcels, tmp_path / "missing.tif")
    (tmp_path / "bad.tif").write_text("not a raster")
    with pytest.raises(InputError, match="cannot read raster"):
        building_stats(parcels, tmp_path / "bad.tif")
    path = write_tif(tmp_path / "h.tif", np.zeros((20, 20), np.float32), Affine(5.0, 0, X0, 0, -5.0, Y0 + 100),
                     nodata=-9999.0)
    with pytest.raises(InputError, match="storey_height_m and double_over_m must be positive"):
        building_stats(parcels, path, storey_height_m=0.0)


def test_windows_are_read_one_after_another(tmp_path):
    array = np.arange(40 * 50, dtype=np.int32).reshape(40, 50)
    path = write_tif(tmp_path / "n.tif", array, Affine(1.0, 0, 0, 0, -1.0, 40), nodata=None)
    windows = open_raster_windows(path)
    assert (windows.shape, windows.block_shape, windows.dtype) == ((40, 50), (16, 16), np.dtype(np.int32))
    assert windows.crs.to_epsg() == 4549 and windows.nodata is None
    out = windows.read((16, 32), [(0, 16), (32, 50)])
    np.testing.assert_array_equal(out, np.r_[array[16:32, 0:16].ravel(), array[16:32, 32:50].ravel()])
    buffer = np.full(1000, -1, dtype=np.int32)
    got = windows.read((38, 40), [(48, 50)], out=buffer)
    np.testing.assert_array_equal(got, [1948, 1949, 1998, 1999])
    assert got.base is buffer  # read into the buffer given
    with pytest.raises(InputError, match="has no band 2"):
        open_raster_windows(path, band=2)


def test_band_by_band_spans_are_the_whole_grid_spans():
    rng = np.random.default_rng(11)
    geoms = np.array([shapely.Point(p).buffer(r) for p, r in zip(rng.uniform(0, 100, (40, 2)),
                                                                  rng.uniform(0.5, 30, 40), strict=True)])
    grid = Grid(0.0, 100.0, 3.0, 3.0, 30, 34)
    edges = polygon_edges(geoms)
    start, length, label = centre_spans(edges, grid)
    parts = [(rows, *centre_spans(band, grid, rows=rows)) for rows, band in edges_by_band(edges, grid, 7)]
    assert [rows for rows, *_ in parts] == sorted({(r // 7 * 7, min(r // 7 * 7 + 7, 34)) for r in start // 30})
    for (r0, r1), s, _, _ in parts:
        assert ((s // 30 >= r0) & (s // 30 < r1)).all()
    got = pd.DataFrame({name: np.concatenate([p[k] for p in parts]) for k, name in
                        [(1, "start"), (2, "length"), (3, "label")]})
    want = pd.DataFrame({"start": start, "length": length, "label": label})
    # the same runs; band by band they come ordered by band, then label, row and column
    pd.testing.assert_frame_equal(got.sort_values(["label", "start"]).reset_index(drop=True), want)
    assert list(edges_by_band(tuple(e[:0] for e in edges), grid, 7)) == []
