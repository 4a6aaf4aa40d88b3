"""Municipality boundaries for maps: the optional ``boundaries.geojson`` of a data set folder.

A GeoJSON FeatureCollection with one Polygon or MultiPolygon feature per municipality, its
``municipality_id`` property naming it (WGS84 lon/lat). Nothing in the model reads it; reports
draw it. It is checked like a table (every problem at once, the feature named) but is not part
of the data set's content hash: redrawing a coastline changes no decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..problems import Problem

BOUNDARIES_FILE = "boundaries.geojson"
_SHAPES = ("Polygon", "MultiPolygon")


def read_boundaries(folder: Path, municipalities: pd.DataFrame | None,
                    problems: list[Problem]) -> Mapping[str, Any] | None:
    """The folder's boundaries, checked against its municipalities; None when absent or bad
    (the problems say why)."""
    file = folder / BOUNDARIES_FILE
    if not folder.is_dir() or not file.exists():
        return None
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(Problem("error", f"not valid GeoJSON ({exc}); expected a "
                                "FeatureCollection of municipality polygons", source=file.name))
        return None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or \
            not isinstance(doc.get("features"), list):
        problems.append(Problem("error", "expected a GeoJSON FeatureCollection with a "
                                "'features' list", source=file.name))
        return None
    known = set() if municipalities is None else set(municipalities["municipality_id"])
    before = len(problems)
    seen: dict[str, int] = {}
    for i, feature in enumerate(doc["features"]):
        where = f"features[{i}]"
        props = feature.get("properties") if isinstance(feature, dict) else None
        mid = props.get("municipality_id") if isinstance(props, dict) else None
        if not isinstance(mid, str) or not mid.strip():
            problems.append(Problem("error", "expected a 'municipality_id' property (text)",
                                    source=file.name, column=where))
            continue
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in _SHAPES:
            problems.append(Problem("error", "expected a Polygon or MultiPolygon geometry",
                                    source=file.name, column=where, value=mid))
        if municipalities is not None and mid not in known:
            problems.append(Problem("error", "unknown municipality_id: not in "
                                    "municipalities", source=file.name, column=where,
                                    value=mid))
        if mid in seen:
            problems.append(Problem("error", f"duplicate municipality_id: already in "
                                    f"features[{seen[mid]}]", source=file.name, column=where,
                                    value=mid))
        seen.setdefault(mid, i)
    if len(problems) > before:
        return None
    missing = sorted(known - set(seen))
    if missing:
        problems.append(Problem("warning", f"{len(missing)} municipalities have no boundary "
                                "(maps show them as points): " + ", ".join(missing[:10])
                                + (" …" if len(missing) > 10 else ""), source=file.name))
    return doc
