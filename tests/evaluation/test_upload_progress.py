"""The server's progress checking and storing an uploaded crime file, asked for by the browser
while it waits (issue #23, item 6)."""

from __future__ import annotations

from pathlib import Path

from helppoint.domain.model import Role
from helppoint.services.crime_import import ImportProgress
from helppoint.web.upload_progress import UploadProgress
from tests.evaluation.test_crime_data import _file
from tests.web.test_api import client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_latest_report_per_owner_and_upload_until_forgotten() -> None:
    clock = Clock()
    uploads = UploadProgress(clock)
    uploads.report("sue", "abc12345", ImportProgress("f.csv", "checking", 5000, 400, 1000))
    uploads.report("sue", "abc12345", ImportProgress("f.csv", "storing", 5000, 1000, 1000))
    state = uploads.get("sue", "abc12345")
    assert state is not None
    assert (state.phase, state.rows, state.fraction, state.reports) == ("storing", 5000, 1.0, 2)
    assert uploads.get("sam", "abc12345") is None  # someone else's upload: nothing
    uploads.finish("sue", "abc12345", "done", 9000)
    state = uploads.get("sue", "abc12345")
    assert state is not None and (state.phase, state.rows, state.reports) == ("done", 9000, 2)
    clock.now += UploadProgress.KEEP - 1
    assert uploads.get("sue", "abc12345") is not None
    clock.now += 1
    assert uploads.get("sue", "abc12345") is None


def test_at_most_max_uploads_are_kept() -> None:
    clock = Clock()
    uploads = UploadProgress(clock)
    uploads.MAX = 2
    for n in range(3):
        clock.now += 1
        uploads.finish("sue", f"upload-{n}", "done", n)
    assert uploads.get("sue", "upload-0") is None  # the oldest made room
    assert [uploads.get("sue", f"upload-{n}") is not None for n in (1, 2)] == [True, True]


def test_progress_of_an_upload_over_http(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from helppoint.services.seed import seed_demo

    seed_demo(live_server.database.uow())
    sue = client(live_server, "sue", Role.SUPERVISOR)
    path = _file(tmp_path, "2026-10", 12_001, 0)  # all near the Market Square unit: all kept
    assert sue.get("/api/evaluation/crime-files/progress?upload=upload-1").json() == {
        "phase": None, "rows": 0, "fraction": None, "reports": 0,
    }  # fmt: skip
    answer = sue.post(
        f"/api/evaluation/crime-files?name={path.name}&upload=upload-1",
        content=path.read_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    # Checked: reports at 5,000 and 10,000 rows; stored in three batches of up to 5,000.
    assert sue.get("/api/evaluation/crime-files/progress?upload=upload-1").json() == {
        "phase": "done", "rows": 12_001, "fraction": 1.0, "reports": 5,
    }  # fmt: skip
    sam = client(live_server, "sam", Role.SUPERVISOR)
    assert sam.get("/api/evaluation/crime-files/progress?upload=upload-1").json()["phase"] is None
    bad = "Month,Nonsense\n2026-10,1\n"
    refused = sue.post(
        "/api/evaluation/crime-files?name=bad.csv&upload=upload-2",
        content=bad.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert refused.status_code == 400
    assert sue.get("/api/evaluation/crime-files/progress?upload=upload-2").json()["phase"] == (
        "refused"
    )
    for wrong in ("short", "not/an/id!", "x" * 65):
        assert sue.get(f"/api/evaluation/crime-files/progress?upload={wrong}").status_code == 422
    assert (
        sue.post(
            f"/api/evaluation/crime-files?name=x.csv&upload={'y' * 65}",
            content=path.read_bytes(),
            headers={"Content-Type": "text/csv"},
        ).status_code
        == 422
    )
