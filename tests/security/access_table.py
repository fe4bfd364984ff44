"""Who may use each route of the app: the one table the role-matrix test is derived from.

Every route of the app (HTTP and WebSocket, incl. mounts) must have an entry, keyed by
(method, path) exactly as FastAPI declares it ("WS" for WebSocket routes, "MOUNT" for mounts).
The value says who may use it:

- PUBLIC: anyone, signed in or not (public pages, sign-in, static files, API docs);
- SIGNED_IN: any signed-in user, whatever the role;
- a Permission: users whose role has it (domain/model.py ROLE_PERMISSIONS);
- a frozenset of Permissions: users whose role has any of them;
- UNIT_KEY: a help point unit with its key; no browser session gets in.
- TOKEN: a monitoring system with the metrics bearer token; no browser session gets in.

test_role_matrix.py checks every (route, role) pair against this table.
"""

from __future__ import annotations

from typing import Final

from helppoint.domain.model import Permission

PUBLIC: Final = "public"
SIGNED_IN: Final = "signed_in"
UNIT_KEY: Final = "unit_key"
TOKEN: Final = "token"
Access = Permission | frozenset[Permission] | str

P = Permission
ACCESS: dict[tuple[str, str], Access] = {
    # API documentation and static files
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("MOUNT", "/static"): PUBLIC,
    ("MOUNT", "/static/leaflet"): PUBLIC,
    # signing in and out
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/2fa"): PUBLIC,
    ("POST", "/login/2fa"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/login/2fa"): PUBLIC,
    ("GET", "/api/login/2fa/enrolment"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("POST", "/api/logout"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): TOKEN,
    # the signed-in user's own things
    ("GET", "/api/me"): SIGNED_IN,
    ("GET", "/api/classifications"): SIGNED_IN,
    ("GET", "/account/security"): SIGNED_IN,
    # personal API tokens (web/api_tokens.py)
    ("GET", "/api/tokens"): SIGNED_IN,
    ("POST", "/api/tokens"): SIGNED_IN,
    ("DELETE", "/api/tokens/{token_id}"): SIGNED_IN,
    ("GET", "/account/tokens"): SIGNED_IN,
    ("POST", "/account/tokens"): SIGNED_IN,
    ("POST", "/account/tokens/{token_id}/revoke"): SIGNED_IN,
    ("POST", "/account/2fa/start"): SIGNED_IN,
    ("POST", "/account/2fa/confirm"): SIGNED_IN,
    ("GET", "/"): SIGNED_IN,
    ("GET", "/history"): P.VIEW_HISTORY,
    # the console
    ("WS", "/console/ws"): P.HANDLE_INCIDENTS,
    ("GET", "/api/units"): P.VIEW_HISTORY,
    ("GET", "/api/zones"): P.VIEW_HISTORY,
    ("GET", "/api/incidents/queue"): P.HANDLE_INCIDENTS,
    ("GET", "/api/incidents"): P.VIEW_HISTORY,
    ("GET", "/api/incidents/{incident_id}"): P.VIEW_HISTORY,
    ("POST", "/api/incidents/{incident_id}/acknowledge"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/notes"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/classify"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/close"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/weed-out"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/weed-out"): P.HANDLE_INCIDENTS,
    ("GET", "/api/triage/stills"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/take-next"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/move"): P.SUPERVISE,
    ("GET", "/api/triage/holders"): P.SUPERVISE,
    ("POST", "/api/incidents/{incident_id}/escalate"): P.HANDLE_INCIDENTS,
    ("GET", "/api/incidents/{incident_id}/notifications"): P.VIEW_HISTORY,
    ("GET", "/api/incidents/{incident_id}/checklist"): P.VIEW_HISTORY,
    ("POST", "/api/incidents/{incident_id}/police-called"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/police-on-scene"): P.HANDLE_INCIDENTS,
    ("POST", "/api/units/{unit_id}/commands"): P.HANDLE_INCIDENTS,
    ("POST", "/api/demo/press/{unit_id}"): P.HANDLE_INCIDENTS,
    # unit health and maintenance
    ("GET", "/health-board"): P.VIEW_HISTORY,
    ("GET", "/api/health/units"): P.VIEW_HISTORY,
    ("GET", "/api/maintenance/tickets"): P.VIEW_HISTORY,
    ("POST", "/api/maintenance/tickets/{ticket_id}/assign"): P.SUPERVISE,
    ("POST", "/api/maintenance/tickets/{ticket_id}/fixed"): P.SUPERVISE,
    ("POST", "/api/maintenance/tickets/{ticket_id}/verify"): P.SUPERVISE,
    ("PUT", "/api/units/{unit_id}/supervision"): P.ADMINISTER,
    ("POST", "/api/units/{unit_id}/configure"): P.ADMINISTER,
    ("GET", "/api/units/{unit_id}/config"): P.VIEW_HISTORY,
    # audit
    ("GET", "/audit"): P.READ_AUDIT,
    ("GET", "/api/audit"): P.READ_AUDIT,
    ("GET", "/api/audit/export"): P.READ_AUDIT,
    ("GET", "/api/audit/verify"): P.READ_AUDIT,
    # trigger plans
    ("GET", "/admin/plans"): P.ADMINISTER,
    # administration pages (web/admin_pages.py, admin_units.py, admin_contacts.py)
    ("GET", "/admin"): P.ADMINISTER,
    ("GET", "/api/admin/tokens"): P.ADMINISTER,
    ("GET", "/api/notifications/trouble"): P.SUPERVISE,
    ("GET", "/admin/users"): P.ADMINISTER,
    ("POST", "/admin/users"): P.ADMINISTER,
    ("POST", "/admin/users/{username}"): P.ADMINISTER,
    ("POST", "/admin/users/{username}/2fa-reset"): P.ADMINISTER,
    ("POST", "/admin/users/{username}/unlock"): P.ADMINISTER,
    ("POST", "/admin/roles/two-factor"): P.ADMINISTER,
    ("GET", "/admin/zones"): P.ADMINISTER,
    ("POST", "/admin/zones"): P.ADMINISTER,
    ("POST", "/admin/zones/{zone_id}"): P.ADMINISTER,
    ("GET", "/admin/units"): P.ADMINISTER,
    ("POST", "/admin/units"): P.ADMINISTER,
    ("GET", "/admin/units/{unit_id}"): P.ADMINISTER,
    ("POST", "/admin/units/{unit_id}"): P.ADMINISTER,
    ("POST", "/admin/units/{unit_id}/revoke"): P.ADMINISTER,
    ("POST", "/admin/units/{unit_id}/rotate-key"): P.ADMINISTER,
    ("POST", "/admin/units/{unit_id}/remove"): P.ADMINISTER,
    ("GET", "/admin/units/{unit_id}/commissioning"): P.ADMINISTER,
    ("POST", "/admin/units/{unit_id}/commissioning"): P.ADMINISTER,
    ("GET", "/admin/maintainers"): P.ADMINISTER,
    ("POST", "/admin/maintainers"): P.ADMINISTER,
    ("POST", "/admin/maintainers/{contact_id}/remove"): P.ADMINISTER,
    ("GET", "/admin/self-tests"): P.ADMINISTER,
    ("POST", "/admin/self-tests"): P.ADMINISTER,
    ("GET", "/admin/sia"): P.ADMINISTER,
    ("POST", "/admin/sia"): P.ADMINISTER,
    ("POST", "/admin/sia/{account}/deactivate"): P.ADMINISTER,
    ("GET", "/admin/channels"): P.ADMINISTER,
    ("POST", "/admin/channels/test"): P.ADMINISTER,
    ("GET", "/api/plans"): P.ADMINISTER,
    ("POST", "/api/plans/check"): P.ADMINISTER,
    ("PUT", "/api/plans"): P.ADMINISTER,
    ("GET", "/api/plans/example"): P.ADMINISTER,
    ("GET", "/api/plans/{scope}/{target_id}"): P.ADMINISTER,
    ("GET", "/api/plans/{scope}/{target_id}/export"): P.ADMINISTER,
    ("DELETE", "/api/plans/{scope}/{target_id}"): P.ADMINISTER,
    # police
    ("GET", "/police"): P.POLICE_RESPONSE,
    ("WS", "/police/ws"): P.POLICE_RESPONSE,
    ("GET", "/api/police/incidents"): P.POLICE_RESPONSE,
    ("POST", "/api/police/incidents/{incident_id}/acknowledge"): P.POLICE_RESPONSE,
    # SLA and reports
    ("GET", "/supervisor"): P.SUPERVISE,
    ("GET", "/api/sla"): P.SUPERVISE,
    ("GET", "/reports"): P.SUPERVISE,
    ("GET", "/api/reports/monthly"): P.SUPERVISE,
    ("GET", "/api/reports/monthly.csv"): P.SUPERVISE,
    ("GET", "/api/reports/monthly.pdf"): P.SUPERVISE,
    ("GET", "/api/reports/open-data.csv"): P.SUPERVISE,
    ("POST", "/api/evaluation"): P.SUPERVISE,
    # public pages and the safer-routes admin
    ("GET", "/help-points"): PUBLIC,
    ("GET", "/map/tiles/{z}/{x}/{y}"): PUBLIC,
    ("GET", "/p/{unit_id}"): PUBLIC,
    ("GET", "/p/{unit_id}/qr.svg"): PUBLIC,
    ("GET", "/p/{unit_id}/sign.pdf"): PUBLIC,
    ("GET", "/help-points/signs.pdf"): PUBLIC,
    ("GET", "/help-points/leaflet.pdf"): PUBLIC,
    ("GET", "/public/help-points.geojson"): PUBLIC,
    ("GET", "/public/routes.geojson"): PUBLIC,
    ("POST", "/p/{unit_id}/survey"): PUBLIC,
    ("GET", "/sw.js"): PUBLIC,
    ("GET", "/open-data"): PUBLIC,
    ("GET", "/open-data/activations.csv"): PUBLIC,
    ("GET", "/open-data/survey.csv"): PUBLIC,
    ("GET", "/open-data/data-dictionary.csv"): PUBLIC,
    ("GET", "/open-data/datapackage.json"): PUBLIC,
    ("GET", "/api/reports/survey"): P.SUPERVISE,
    ("GET", "/api/reports/survey.csv"): P.SUPERVISE,
    ("GET", "/reports/survey"): P.SUPERVISE,
    ("GET", "/admin/routes"): P.ADMINISTER,
    ("GET", "/api/routes"): P.ADMINISTER,
    ("POST", "/api/routes"): P.ADMINISTER,
    ("PUT", "/api/routes/{route_id}"): P.ADMINISTER,
    ("DELETE", "/api/routes/{route_id}"): P.ADMINISTER,
    # security administration
    ("GET", "/api/admin/security"): P.ADMINISTER,
    ("POST", "/api/admin/unlock"): P.ADMINISTER,
    ("POST", "/api/admin/users/{username}/2fa/reset"): P.ADMINISTER,
    ("PUT", "/api/admin/roles/{role}/two-factor"): P.ADMINISTER,
    ("POST", "/api/admin/units/{unit_id}/rotate-key"): P.ADMINISTER,
    ("POST", "/api/admin/units/{unit_id}/revoke"): P.ADMINISTER,
    # units
    ("WS", "/device/v1"): UNIT_KEY,
    ("POST", "/api/units/{unit_id}/stills"): UNIT_KEY,
    ("GET", "/api/incidents/{incident_id}/stills"): P.VIEW_HISTORY,
    # the police see only their incidents' stills
    ("GET", "/api/stills/{still_id}"): frozenset({P.VIEW_HISTORY, P.POLICE_RESPONSE}),
    ("POST", "/api/incidents/{incident_id}/unit-commands"): P.HANDLE_INCIDENTS,
    ("GET", "/api/incidents/{incident_id}/unit-media"): P.VIEW_HISTORY,
    # calls and recordings (docs/calls.md)
    ("POST", "/api/incidents/{incident_id}/call"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/call/hangup"): P.HANDLE_INCIDENTS,
    ("GET", "/api/incidents/{incident_id}/call"): P.VIEW_HISTORY,
    ("GET", "/api/units/on-test"): P.SUPERVISE,
    ("GET", "/api/sla/load"): P.SUPERVISE,
    ("POST", "/api/stills/{still_id}/hold"): P.SUPERVISE,
    ("POST", "/api/stills/{still_id}/release"): P.SUPERVISE,
    ("GET", "/api/triage/patterns"): P.SUPERVISE,
    ("GET", "/api/triage/hyperactive"): P.SUPERVISE,
    ("GET", "/api/triage/rules"): P.SUPERVISE,
    ("POST", "/api/triage/rules"): P.SUPERVISE,
    ("POST", "/api/triage/rules/{rule_id}/active"): P.SUPERVISE,
    ("GET", "/api/triage/outcomes"): P.SUPERVISE,
    ("PUT", "/api/units/{unit_id}/on-test"): P.SUPERVISE,
    ("DELETE", "/api/units/{unit_id}/on-test"): P.SUPERVISE,
    ("POST", "/api/incidents/{incident_id}/listen"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/listen/stop"): P.HANDLE_INCIDENTS,
    ("POST", "/api/recordings/{recording_id}/play"): P.VIEW_HISTORY,
    ("GET", "/api/recordings/{recording_id}/media"): P.VIEW_HISTORY,
    ("GET", "/api/recordings/{recording_id}/export"): P.VIEW_HISTORY,
    ("POST", "/api/recordings/{recording_id}/hold"): P.SUPERVISE,
    ("POST", "/api/recordings/{recording_id}/release"): P.SUPERVISE,
    # cameras of the CCTV estate (docs/cameras.md)
    ("GET", "/api/admin/cameras"): P.ADMINISTER,
    ("POST", "/api/admin/cameras"): P.ADMINISTER,
    ("GET", "/api/admin/cameras/{camera_id}"): P.ADMINISTER,
    ("PATCH", "/api/admin/cameras/{camera_id}"): P.ADMINISTER,
    ("DELETE", "/api/admin/cameras/{camera_id}"): P.ADMINISTER,
    ("PUT", "/api/admin/cameras/{camera_id}/links"): P.ADMINISTER,
    ("DELETE", "/api/admin/cameras/{camera_id}/links"): P.ADMINISTER,
    ("GET", "/api/incidents/{incident_id}/cameras"): P.VIEW_HISTORY,
    ("POST", "/api/incidents/{incident_id}/cameras/{camera_id}/view"): P.HANDLE_INCIDENTS,
    ("DELETE", "/api/camera-views/{view}"): P.HANDLE_INCIDENTS,
    ("POST", "/api/incidents/{incident_id}/cameras/{camera_id}/ptz"): P.HANDLE_INCIDENTS,
    ("POST", "/api/clips/{clip_id}/play"): P.VIEW_HISTORY,
    ("GET", "/api/clips/{clip_id}/media"): P.VIEW_HISTORY,
    ("GET", "/api/clips/{clip_id}/export"): P.VIEW_HISTORY,
    ("POST", "/api/clips/{clip_id}/hold"): P.SUPERVISE,
    ("POST", "/api/clips/{clip_id}/release"): P.SUPERVISE,
    # unit messages (docs/camera-light-messages.md)
    ("GET", "/admin/prompts"): P.ADMINISTER,
    ("GET", "/api/prompts"): P.VIEW_HISTORY,
    ("PUT", "/api/admin/prompts/{name}"): P.ADMINISTER,
    ("DELETE", "/api/admin/prompts/{name}"): P.ADMINISTER,
    ("GET", "/api/units/{unit_id}/prompts/{name}"): UNIT_KEY,
    # self-tests, maintainers, remote configuration (docs/supervision.md)
    ("POST", "/api/units/{unit_id}/self-test"): P.HANDLE_INCIDENTS,
    ("GET", "/api/units/{unit_id}/self-tests"): P.VIEW_HISTORY,
    ("GET", "/api/self-tests/schedules"): P.VIEW_HISTORY,
    ("PUT", "/api/self-tests/schedules"): P.ADMINISTER,
    ("GET", "/api/maintainers"): P.SUPERVISE,
    ("POST", "/api/maintainers"): P.ADMINISTER,
    ("DELETE", "/api/maintainers/{contact_id}"): P.ADMINISTER,
    # SIA DC-09 event code categories and how each is handled
    ("GET", "/api/sia/categories"): P.VIEW_HISTORY,
    ("GET", "/api/sia/codes"): P.VIEW_HISTORY,
    ("PUT", "/api/sia/categories/{category}"): P.ADMINISTER,
    ("GET", "/units/{unit_id}/config"): P.VIEW_HISTORY,
    ("GET", "/api/units/{unit_id}/settings"): P.VIEW_HISTORY,
}
