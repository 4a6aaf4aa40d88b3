"""Municipality maps as plain inline SVG: one ``<path>`` per municipality from the data set's
``boundaries.geojson`` (a circle at its centroid without boundaries), operator markers, and
nothing fetched from anywhere (docs/architecture.md says why no map library).

The projection is equirectangular with longitudes scaled by the cosine of the mean latitude:
for a country the size of Denmark its distortion is below what a choropleth can show. Colours
and tooltips are set by the page's script from the data embedded beside the map, so one SVG
serves every metric switch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd

from ..data.geography import longitude_scale

#: Width of the drawing in SVG units (the page scales it).
WIDTH = 600.0
PAD = 8.0


@dataclass(frozen=True)
class Projection:
    lon0: float
    lat1: float
    kx: float
    scale: float
    height: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (PAD + (lon - self.lon0) * self.kx * self.scale,
                PAD + (self.lat1 - lat) * self.scale)


def _rings(geometry: Mapping[str, Any]) -> Iterable[list[list[float]]]:
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else \
        [geometry["coordinates"]]
    for poly in polys:
        yield from poly


def projection(boundaries: Mapping[str, Any] | None, munis: pd.DataFrame) -> Projection:
    """Fitted to the boundaries, or to the municipalities' centroids without them."""
    if boundaries is not None:
        pts = [p for f in boundaries["features"] for r in _rings(f["geometry"]) for p in r]
        lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    else:
        lons, lats = list(munis["lon"].astype(float)), list(munis["lat"].astype(float))
    lon0, lon1, lat0, lat1 = min(lons), max(lons), min(lats), max(lats)
    kx = longitude_scale((lat0 + lat1) / 2)
    span = max((lon1 - lon0) * kx, 1e-6)
    scale = (WIDTH - 2 * PAD) / span
    return Projection(lon0, lat1, kx, scale, 2 * PAD + max(lat1 - lat0, 1e-6) * scale)


def _path(geometry: Mapping[str, Any], proj: Projection) -> str:
    parts = []
    for ring in _rings(geometry):
        pts = [proj.xy(lon, lat) for lon, lat, *_ in ring]
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
    return "".join(parts)


def municipality_svg(boundaries: Mapping[str, Any] | None, munis: pd.DataFrame,
                     markers: pd.DataFrame, map_id: str, proj: Projection) -> str:
    """The map: ``path.muni`` (or ``circle.muni``) with ``data-m`` = municipality_id, then
    ``g.markers`` with one ``circle`` (operators) or ``path`` (cluster homes) per row of
    ``markers`` (columns municipality_id, kind, status, label, symbol)."""
    where = munis.set_index("municipality_id")[["lon", "lat"]].astype(float)
    out = [f'<svg class="map" id="{escape(map_id)}" viewBox="0 0 {WIDTH:.0f} '
           f'{proj.height:.0f}" xmlns="http://www.w3.org/2000/svg" role="img">']
    if boundaries is not None:
        for f in boundaries["features"]:
            mid = escape(str(f["properties"]["municipality_id"]))
            out.append(f'<path class="muni" data-m="{mid}" d="{_path(f["geometry"], proj)}"/>')
    else:
        for mid, (lon, lat) in where.iterrows():
            x, y = proj.xy(lon, lat)
            out.append(f'<circle class="muni" data-m="{escape(str(mid))}" cx="{x:.1f}" '
                       f'cy="{y:.1f}" r="7"/>')
    out.append('<g class="markers">')
    # Several markers in one municipality are spread on a small circle around its centroid.
    n_at = markers.groupby("municipality_id").cumcount()
    size = markers.groupby("municipality_id")["municipality_id"].transform("size")
    for (_, row), k, n in zip(markers.iterrows(), n_at, size, strict=True):
        if row["municipality_id"] not in where.index:
            continue
        x, y = proj.xy(*where.loc[row["municipality_id"]])
        if n > 1:
            angle = 2 * math.pi * k / n
            x, y = x + 5 * math.cos(angle), y + 5 * math.sin(angle)
        attrs = (f'class="mk {escape(str(row["status"]))} {escape(str(row["symbol"]))}" '
                 f'data-tip="{escape(str(row["label"]))}"')
        if row["symbol"] == "cluster":
            s = 4.5
            out.append(f'<path {attrs} d="M{x:.1f},{y - s:.1f}L{x + s:.1f},{y:.1f}'
                       f'L{x:.1f},{y + s:.1f}L{x - s:.1f},{y:.1f}Z"/>')
        else:
            out.append(f'<circle {attrs} cx="{x:.1f}" cy="{y:.1f}" r="2.6"/>')
    out.append("</g></svg>")
    return "".join(out)
