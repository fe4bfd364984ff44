"""Answers to the public survey "How safe do you feel here?" (docs/survey.md).

The rules (what an answer may say, the figures) are domain/survey.py; services/survey.py is
the use case. Only the answer, its unit, the unit's zone and the hour are kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from helppoint.domain.survey import Answer, StoredAnswer
from helppoint.store.tables_admin import commissioning_runs
from helppoint.store.tables_public import survey_answers


class SurveyRepository:
    """Keep answers, count them, read a period's, and find when each unit began."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, unit_id: str, zone_id: str, hour: datetime, answer: Answer) -> None:
        self.session.execute(
            insert(survey_answers).values(
                unit_id=unit_id,
                zone_id=zone_id,
                hour=hour,
                feeling=answer.feeling,
                gender=answer.gender.value if answer.gender else None,
                age_band=answer.age_band,
            )
        )

    def count(self) -> int:
        return int(
            self.session.execute(select(func.count()).select_from(survey_answers)).scalar_one()
        )

    def between(self, start: datetime, end: datetime) -> list[StoredAnswer]:
        """Every answer given from `start` (inclusive) to `end` (exclusive)."""
        c = survey_answers.c
        rows = self.session.execute(
            select(c.unit_id, c.zone_id, c.hour, c.feeling, c.gender, c.age_band).where(
                c.hour >= start, c.hour < end
            )
        )
        return [StoredAnswer(*row) for row in rows]

    def first_commissioning(self) -> dict[str, datetime]:
        """When each unit's first commissioning test was started (units never tested: absent)."""
        c = commissioning_runs.c
        rows = self.session.execute(select(c.unit_id, func.min(c.started_at)).group_by(c.unit_id))
        return {unit_id: started for unit_id, started in rows}
