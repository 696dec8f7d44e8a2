"""Cases out to GIS tools: GeoJSON (QGIS), CSV (Excel, in Chinese), KML (Google Earth, DJI Pilot). Pure.

Geometry is WGS84 in all three (what the formats define); GCJ-02 coordinates and an AMap link ride along as
attributes for staff who work in Chinese map apps.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from pipeline.cases.views import EXPORT_FIELDS, CaseView

FORMATS = ("geojson", "csv", "kml")
KML_NS = "http://www.opengis.net/kml/2.2"


def to_geojson(cases: Sequence[CaseView]) -> str:
    """An RFC 7946 FeatureCollection of points, longitude first."""
    features = [
        {
            "type": "Feature",
            "id": c.id,
            "geometry": {"type": "Point", "coordinates": [round(c.lon, 8), round(c.lat, 8)]},
            "properties": c.as_dict(),
        }
        for c in cases
    ]
    return (
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1) + "\n"
    )


def to_csv(cases: Sequence[CaseView]) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel reads the Chinese as the local code page."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_FIELDS)
    for c in cases:
        row = c.as_dict()
        writer.writerow(["" if row[k] is None else row[k] for k in EXPORT_FIELDS])
    return buf.getvalue().encode("utf-8-sig")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def to_kml(cases: Sequence[CaseView], name: str = "patrol cases") -> bytes:
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _sub(root, "Document")
    _sub(doc, "name", name)
    for c in cases:
        pm = _sub(doc, "Placemark", None)
        pm.set("id", f"case-{c.id}")
        _sub(pm, "name", f"#{c.id} {c.category}")
        _sub(
            pm,
            "description",
            f"{c.category_major} / {c.category}（{c.status}）；{c.sightings} 次目击，"
            f"首次 {c.first_seen}，最近 {c.last_seen}；高德地图 {c.amap_url}",
        )
        ext = _sub(pm, "ExtendedData")
        for key, value in c.as_dict().items():
            data = _sub(ext, "Data")
            data.set("name", key)
            _sub(data, "value", "" if value is None else str(value))
        point = _sub(pm, "Point")
        _sub(point, "coordinates", f"{c.lon:.8f},{c.lat:.8f},0")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def export(cases: Sequence[CaseView], fmt: str) -> bytes:
    if fmt == "geojson":
        return to_geojson(cases).encode("utf-8")
    if fmt == "csv":
        return to_csv(cases)
    if fmt == "kml":
        return to_kml(cases)
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
