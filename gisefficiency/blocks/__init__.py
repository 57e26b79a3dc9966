"""Blocks: contiguous low-efficiency land (集中连片) for redevelopment, and statistical clusters beside it.

Reads the assembled parcels (``land_mu``, ``low_efficiency``, per-mu figures, geometry). Returns:

- ``find_blocks(parcels, *, gap_m=30, min_area_mu=50, keep="enclosed", ...)`` → ``Blocks``:
  ``membership`` (parcel_id → ``block_id``, ``block_role`` "low"/"kept") and ``blocks`` (a GeoDataFrame
  indexed by ``block_id``: area, parcels, firms, tax, energy, freed land, priority and rank).
- ``local_clusters(parcels, ...)``: Local Moran (low-low) or Gi* cold spots with an FDR correction, and
  ``compare_with_blocks`` for how far the statistical lens agrees with the rule-based blocks.

Modules: ``adjacency`` (gap-tolerant neighbours on an STRtree, connected components, unions by label),
``find`` (components into block polygons), ``kept`` (which enclosed non-flagged parcels a block keeps),
``table`` (sums, ids, compactness, priority and rank per block), ``clusters``.
"""

from gisefficiency.blocks.clusters import compare_with_blocks, local_clusters
from gisefficiency.blocks.find import PRIORITY_WEIGHTS, Blocks, find_blocks

__all__ = ["PRIORITY_WEIGHTS", "Blocks", "compare_with_blocks", "find_blocks", "local_clusters"]
