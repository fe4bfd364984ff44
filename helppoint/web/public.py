"""Public pages (no sign-in): the map of help points and safer routes, a page per unit, its QR
code; and the admin's JSON API for drawing safer routes (docs/public-pages.md).

Everything under the public paths is built from `services.public`, which exposes only what a
sign says anyway; a test walks every public response for incident or personal data.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from helppoint.domain.errors import NotFound
from helppoint.domain.model import Operator, Permission
from helppoint.i18n import N_
from helppoint.printables.here import here_pdf, refusal
from helppoint.printables.leaflet import leaflet_pdf
from helppoint.printables.qr import in_language
from helppoint.printables.sign import sign_pdf
from helppoint.services import public as public_service
from helppoint.services.unit_admin import PlaceRules
from helppoint.web.deps import require
from helppoint.web.forbidden import forbidden_page
from helppoint.web.geojson import (
    EditedRoute,
    GeoJSONResponse,
    HelpPoints,
    RouteFeature,
    Routes,
)
from helppoint.web.i18n import (
    chosen_by_query,
    default_language,
    public_language,
    vary_by_language,
)
from helppoint.web.map_tiles import map_context
from helppoint.web.open_data import router as open_data_router
from helppoint.web.plain_map import plain_map
from helppoint.web.public_rendering import (
    public_base,
    public_page,
    publicly_cached,
    unit_url,
)
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.survey import router as survey_router
from helppoint.web.survey import unit_context

router = APIRouter(tags=["public"])
router.include_router(survey_router)
router.include_router(open_data_router)
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


def _feature(unit: public_service.PublicUnit) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": unit.id,
        "geometry": {"type": "Point", "coordinates": [unit.longitude, unit.latitude]},
        "properties": {
            "id": unit.id,
            "name": unit.name,
            "zone": unit.zone,
            "description": unit.description,
            "in_service": unit.in_service,
            "state": unit.state_label,
            "status": unit.state or ("in_service" if unit.in_service else "out_of_service"),
            "url": f"/p/{unit.id}",
        },
    }


SERVICE_WORKER = Path(__file__).parent / "static" / "public-sw.js"


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> Response:
    """The public pages' service worker, at the root so that it may serve /help-points and
    /p/… offline (static/public-sw.js). Always checked again: a new version takes over."""
    return Response(
        SERVICE_WORKER.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/help-points", response_class=HTMLResponse, include_in_schema=False)
def public_map(request: Request) -> Response:
    """The public map of help points and safer routes, with a plain list of both."""
    uow_factory = request.app.state.uow_factory
    context = {
        "units": public_service.public_units(uow_factory()),
        "routes": public_service.list_routes(uow_factory()),
        **map_context(request),
    }
    context["plain_map"] = plain_map(context["units"], context["routes"])
    # The units and routes in the page itself, so that the map needs no further round trip.
    context["public_data"] = {
        "units": {"type": "FeatureCollection", "features": [_feature(u) for u in context["units"]]},
        "routes": {
            "type": "FeatureCollection",
            "features": [public_service.route_view(r) for r in context["routes"]],
        },
    }
    return public_page(request, "public_map.html", context)


@router.get("/p/{unit_id}", response_class=HTMLResponse, include_in_schema=False)
def unit_page(request: Request, unit_id: str) -> Response:
    """A unit's own page: the short URL in the QR code on its sign."""
    try:
        unit = public_service.public_unit(request.app.state.uow_factory(), unit_id)
    except NotFound:
        missing: dict[str, Any] = {"unit_id": unit_id[:64]}
        return public_page(request, "public_not_found.html", missing, status_code=404)
    if unit.id != unit_id:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/p/{unit.id}{query}", status_code=308)
    return public_page(request, "public_unit.html", unit_context(request, unit))


@router.get("/p/{unit_id}/qr.svg", include_in_schema=False)
def unit_qr(request: Request, unit_id: str) -> Response:
    """The QR code of a unit's short URL, as SVG."""
    unit = public_service.public_unit(request.app.state.uow_factory(), unit_id)
    lang = chosen_by_query(request)
    url = unit_url(public_base(request), unit.id)
    if lang:  # the QR code of a sign in this language (docs/i18n.md)
        url = in_language(url, lang, default_language(request))
    buffer = io.BytesIO()
    segno.make(url, error="m").save(
        buffer, kind="svg", scale=8, border=4, title=f"QR code for {url}", xmldecl=False
    )
    return publicly_cached(Response(buffer.getvalue(), media_type="image/svg+xml"))


def _pdf(request: Request, content: bytes, filename: str, lang: str) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{filename}"'}
    response = publicly_cached(Response(content, media_type="application/pdf", headers=headers))
    return vary_by_language(request, response, lang)


@router.get("/p/{unit_id}/sign.pdf", include_in_schema=False)
def unit_sign(request: Request, unit_id: str) -> Response:
    """The printable A4 sign of a unit, with the QR code of its short URL."""
    unit = public_service.public_unit(request.app.state.uow_factory(), unit_id)
    lang = public_language(request)
    content = sign_pdf([unit], public_base(request), lang, default_language(request))
    return _pdf(request, content, f"sign-{unit.id}.pdf", lang)


@router.get("/help-points/signs.pdf", include_in_schema=False)
def all_signs(request: Request) -> Response:
    """Every unit's sign, one A4 page each, for the printer."""
    units = public_service.public_units(request.app.state.uow_factory())
    lang = public_language(request)
    content = sign_pdf(units, public_base(request), lang, default_language(request))
    return _pdf(request, content, "help-point-signs.pdf", lang)


@router.get("/help-points/leaflet.pdf", include_in_schema=False)
def leaflet(request: Request) -> Response:
    """The hand-out leaflet: a map of every help point and safer route."""
    uow_factory = request.app.state.uow_factory
    lang = public_language(request)
    content = leaflet_pdf(
        public_service.public_units(uow_factory()),
        public_service.list_routes(uow_factory()),
        public_base(request),
        lang=lang,
        default_lang=default_language(request),
    )
    return _pdf(request, content, "help-points-leaflet.pdf", lang)


def _here_place(
    request: Request, units: list[public_service.PublicUnit]
) -> tuple[float, float, str]:
    """The place a "you are here" map is asked for, or HereRefused with the reason's message
    id (printables/here.py refusal)."""
    query = request.query_params
    try:
        latitude = float(query.get("lat", "")[:32])
        longitude = float(query.get("lon", "")[:32])
    except ValueError:
        raise HereRefused(N_("Give the place as a latitude and a longitude.")) from None
    name = query.get("name", "").strip()
    max_km = float(request.app.state.settings.place_max_km)
    reason = refusal(latitude, longitude, name, units, max_km)
    if reason:
        raise HereRefused(reason)
    return latitude, longitude, name


class HereRefused(ValueError):
    """A "you are here" map that cannot be made: the message id says why."""


@router.get("/help-points/here.pdf", include_in_schema=False)
def here_map(request: Request) -> Response:
    """A printable "you are here" map for a place (e.g. a park entrance): the place, the help
    points and safer routes around it, the nearest with distance and direction, a QR code to
    the live map. ?lat=…&lon=…&name=…&lang=…"""
    uow_factory = request.app.state.uow_factory
    units = public_service.public_units(uow_factory())
    try:
        latitude, longitude, name = _here_place(request, units)
    except HereRefused as refused:
        return public_page(request, "public_error.html", {"message": str(refused)}, 400)
    lang = public_language(request)
    content = here_pdf(
        latitude,
        longitude,
        name,
        units,
        public_service.list_routes(uow_factory()),
        public_base(request),
        lang,
        default_language(request),
    )
    return _pdf(request, content, "you-are-here.pdf", lang)


@router.get(
    "/public/help-points.geojson", response_model=HelpPoints, response_class=GeoJSONResponse
)
def help_points_geojson(request: Request) -> Response:
    """Every help point as GeoJSON (public: id, name, place, zone, in service)."""
    units = public_service.public_units(request.app.state.uow_factory())
    body = {"type": "FeatureCollection", "features": [_feature(u) for u in units]}
    return publicly_cached(GeoJSONResponse(body))


@router.get("/public/routes.geojson", response_model=Routes, response_class=GeoJSONResponse)
def routes_geojson(request: Request) -> Response:
    """Every safer route as GeoJSON."""
    routes = public_service.list_routes(request.app.state.uow_factory())
    body = {"type": "FeatureCollection", "features": [public_service.route_view(r) for r in routes]}
    return publicly_cached(GeoJSONResponse(body))


class RouteBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    geometry: dict[str, Any]
    confirm_place: bool = Field(
        default=False,
        description="save points far from the scheme's units or outside its area anyway",
    )


def _place_rules(request: Request) -> dict[str, Any]:
    """The guard rails of the settings (scheme_area, place_max_km), for save_route."""
    rules = PlaceRules.from_settings(request.app.state.settings)
    return {"area": rules.area, "max_km": rules.max_km}


@router.get("/api/routes", response_model=list[EditedRoute])
def admin_list_routes(request: Request, admin: Admin) -> list[dict[str, Any]]:
    """Every safer route with who changed it last and when."""
    routes = public_service.list_routes(request.app.state.uow_factory())
    return [
        public_service.route_view(r)
        | {"updated_by": r.updated_by, "updated_at": r.updated_at.isoformat()}
        for r in routes
    ]


@router.post("/api/routes", response_model=RouteFeature, status_code=201)
def admin_add_route(body: RouteBody, request: Request, admin: Admin) -> dict[str, Any]:
    """Add a safer route (GeoJSON LineString or MultiLineString, [lon, lat] positions)."""
    route = public_service.save_route(
        request.app.state.uow_factory(),
        admin.username,
        body.name,
        body.geometry,
        body.description,
        confirm_place=body.confirm_place,
        **_place_rules(request),
    )
    return public_service.route_view(route)


@router.put("/api/routes/{route_id}", response_model=RouteFeature)
def admin_change_route(
    route_id: int, body: RouteBody, request: Request, admin: Admin
) -> dict[str, Any]:
    """Replace a safer route's name, description and line."""
    route = public_service.save_route(
        request.app.state.uow_factory(),
        admin.username,
        body.name,
        body.geometry,
        body.description,
        route_id=route_id,
        confirm_place=body.confirm_place,
        **_place_rules(request),
    )
    return public_service.route_view(route)


@router.delete("/api/routes/{route_id}", status_code=204)
def admin_delete_route(route_id: int, request: Request, admin: Admin) -> Response:
    """Remove a safer route."""
    public_service.delete_route(request.app.state.uow_factory(), admin.username, route_id)
    return Response(status_code=204)


@router.get("/admin/routes", response_class=HTMLResponse, include_in_schema=False)
def admin_routes_page(request: Request) -> Response:
    """The admin's page for drawing safer routes on the map."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/admin/routes", status_code=303)
    if not operator.can(Permission.ADMINISTER):
        return forbidden_page(request, operator, "Only an admin may edit safer routes.")
    context = page_context(request, operator) | {"active_page": "routes", "demo": False}
    return templates.TemplateResponse(request, "admin_routes.html", context)
