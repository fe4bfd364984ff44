"""The GeoJSON the public map and the safer-routes admin exchange (RFC 7946), as typed models.

The public feeds (/public/*.geojson) are answered as application/geo+json; the routes API
(/api/routes) answers the same features as JSON, with who changed each route last.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class GeoJSONResponse(JSONResponse):
    """JSON with the GeoJSON media type (RFC 7946)."""

    media_type = "application/geo+json"


class PointGeometry(BaseModel):
    type: Literal["Point"]
    #: [longitude, latitude] (WGS 84).
    coordinates: list[float]


class HelpPointProperties(BaseModel):
    """What the public may know of a help point."""

    id: str
    name: str
    zone: str
    description: str
    in_service: bool
    #: The state in words, and as a code: in_service, not_yet_in_service or out_of_service.
    state: str
    status: str
    #: Its public page.
    url: str


class HelpPointFeature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: PointGeometry
    properties: HelpPointProperties


class HelpPoints(BaseModel):
    """Every help point, as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[HelpPointFeature]


class RouteProperties(BaseModel):
    id: int
    name: str
    description: str


class RouteFeature(BaseModel):
    """A safer route: a GeoJSON LineString or MultiLineString of [lon, lat] positions."""

    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any]
    properties: RouteProperties


class Routes(BaseModel):
    """Every safer route, as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[RouteFeature]


class EditedRoute(RouteFeature):
    """A safer route with who changed it last and when (for its editors only)."""

    updated_by: str
    updated_at: str
