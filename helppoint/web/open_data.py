"""/open-data: the scheme's open data at a public address, when it chooses to publish it
(`open_data_public`), with its licence and data dictionary (docs/open-data.md).

Off by default: every address here answers 404 until the scheme turns it on. The supervisors'
`/api/reports/open-data.csv` (any months) stays as it was.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from helppoint.services import open_data as service
from helppoint.services.reports import DEFAULT_TIMEZONE
from helppoint.web.public_rendering import public_base, public_page

router = APIRouter(tags=["public"])
#: Monthly figures change once a month: an hour's cache is plenty.
OPEN_DATA_CACHE = "public, max-age=3600"


def _published(request: Request) -> bool:
    return bool(request.app.state.settings.open_data_public)


def _not_published(request: Request) -> Response:
    return public_page(request, "public_open_data.html", {"published": False}, status_code=404)


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": OPEN_DATA_CACHE,
            "Access-Control-Allow-Origin": "*",
        },
    )


def _months(request: Request) -> list[Any]:
    return service.published_months(request.app.state.settings.open_data_months)


@router.get("/open-data", include_in_schema=False)
def open_data_page(request: Request) -> Response:
    """What is published, under which licence, and what every column means."""
    if not _published(request):
        return _not_published(request)
    settings = request.app.state.settings
    months = _months(request)
    context = {
        "published": True,
        "files": service.FILES,
        "licence": settings.open_data_licence,
        "licence_url": settings.open_data_licence_url,
        "publisher": settings.open_data_publisher,
        "first_month": str(months[0]),
        "last_month": str(months[-1]),
        "min_answers": settings.open_data_min_answers,
    }
    return public_page(request, "public_open_data.html", context)


@router.get("/open-data/activations.csv", include_in_schema=False)
def activations(request: Request) -> Response:
    if not _published(request):
        return _not_published(request)
    text = service.activations_csv(
        request.app.state.uow_factory(), _months(request), DEFAULT_TIMEZONE
    )
    return _csv(text, "help-point-activations.csv")


@router.get("/open-data/survey.csv", include_in_schema=False)
def survey(request: Request) -> Response:
    if not _published(request):
        return _not_published(request)
    settings = request.app.state.settings
    text = service.survey_csv(
        request.app.state.uow_factory(),
        _months(request),
        DEFAULT_TIMEZONE,
        settings.open_data_min_answers,
    )
    return _csv(text, "help-point-survey.csv")


@router.get("/open-data/data-dictionary.csv", include_in_schema=False)
def dictionary(request: Request) -> Response:
    if not _published(request):
        return _not_published(request)
    return _csv(service.dictionary_csv(), "help-point-data-dictionary.csv")


@router.get("/open-data/datapackage.json", include_in_schema=False)
def data_package(request: Request) -> Response:
    if not _published(request):
        return _not_published(request)
    settings = request.app.state.settings
    body = service.data_package(
        public_base(request),
        settings.open_data_licence,
        settings.open_data_licence_url,
        settings.open_data_publisher,
    )
    return JSONResponse(
        body, headers={"Cache-Control": OPEN_DATA_CACHE, "Access-Control-Allow-Origin": "*"}
    )
