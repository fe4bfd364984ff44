"""The unit of work: one transaction, its repositories, and messages published after commit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from helppoint.store.database import reading
from helppoint.store.notification_repository import NotificationRepository
from helppoint.store.plan_repository import PlanRepository, PoliceResponseRepository
from helppoint.store.prepared import Pipelined, allow_pipelines
from helppoint.store.repositories import (
    AuditRepository,
    DeviceEventRepository,
    HelpPointRepository,
    IncidentRepository,
    LoginSessionRepository,
    NoteRepository,
    OperatorRepository,
    ZoneRepository,
)
from helppoint.store.repositories_calls import CallRepository
from helppoint.store.repositories_cameras import CameraRepository
from helppoint.store.repositories_commands import UnitCommandRepository
from helppoint.store.repositories_commissioning import CommissioningRepository
from helppoint.store.repositories_crime import CrimeRecordRepository, EvaluationRunRepository
from helppoint.store.repositories_maintainers import MaintainerRepository
from helppoint.store.repositories_prompts import PromptRepository
from helppoint.store.repositories_public import SaferRouteRepository
from helppoint.store.repositories_rates import RateWindowRepository
from helppoint.store.repositories_report_inputs import ReportInputRepository
from helppoint.store.repositories_reports import ReportRepository
from helppoint.store.repositories_security import (
    LoginThrottleRepository,
    ServerSecretRepository,
    TwoFactorRepository,
)
from helppoint.store.repositories_selftest import SelfTestRepository
from helppoint.store.repositories_sia import SiaAccountRepository, SiaHandlingRepository
from helppoint.store.repositories_sip import SipAccountRepository
from helppoint.store.repositories_sla import SlaRepository
from helppoint.store.repositories_stills import StillRepository
from helppoint.store.repositories_supervision import (
    PowerRepository,
    SupervisionRepository,
    TicketRepository,
)
from helppoint.store.repositories_survey import SurveyRepository
from helppoint.store.repositories_tokens import ApiTokenRepository
from helppoint.store.repositories_triage import TriageRepository
from helppoint.store.repositories_unit_config import UnitConfigRepository
from helppoint.store.repositories_units import UnitReferenceRepository
from helppoint.topics import Message, Publish

R = TypeVar("R")

#: Receives (topic, message) pairs once the transaction that produced them is committed.
Publisher = Callable[[str, Message], None]
#: Sees the transaction's messages just before it commits (the cluster NOTIFYs them in it).
BeforeCommit = Callable[[Session, list[tuple[str, Message]]], None]


class _Repository(Generic[R]):
    """A repository of the unit of work, made on first use in each transaction: a transaction
    uses a few of the forty, and making them all cost every request and batch ~20 µs."""

    def __init__(self, make: Callable[[Session], R]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type[Any]) -> _Repository[R]: ...
    @overload
    def __get__(self, uow: UnitOfWork, owner: type[Any]) -> R: ...
    def __get__(self, uow: UnitOfWork | None, owner: type[Any]) -> R | _Repository[R]:
        if uow is None:
            return self
        # Kept in the instance's dict, which takes precedence from then on (until __enter__).
        repository = self._make(uow._session)
        uow.__dict__[self._name] = repository
        return repository


class UnitOfWork:
    """`with uow:` opens a transaction; `commit()` makes it durable, then publishes its messages."""

    zones = _Repository(ZoneRepository)
    units = _Repository(HelpPointRepository)
    events = _Repository(DeviceEventRepository)
    incidents = _Repository(IncidentRepository)
    notes = _Repository(NoteRepository)
    operators = _Repository(OperatorRepository)
    logins = _Repository(LoginSessionRepository)
    audit = _Repository(AuditRepository)
    supervision = _Repository(SupervisionRepository)
    tickets = _Repository(TicketRepository)
    plans = _Repository(PlanRepository)
    notifications = _Repository(NotificationRepository)
    police = _Repository(PoliceResponseRepository)
    self_tests = _Repository(SelfTestRepository)
    api_tokens = _Repository(ApiTokenRepository)
    commands = _Repository(UnitCommandRepository)
    unit_config = _Repository(UnitConfigRepository)
    sia_accounts = _Repository(SiaAccountRepository)
    rate_windows = _Repository(RateWindowRepository)
    login_throttles = _Repository(LoginThrottleRepository)
    two_factor = _Repository(TwoFactorRepository)
    server_secrets = _Repository(ServerSecretRepository)
    commissioning = _Repository(CommissioningRepository)
    unit_references = _Repository(UnitReferenceRepository)
    sia_handling = _Repository(SiaHandlingRepository)
    maintainers = _Repository(MaintainerRepository)
    power = _Repository(PowerRepository)
    prompts = _Repository(PromptRepository)
    sip_accounts = _Repository(SipAccountRepository)
    stills = _Repository(StillRepository)
    sla = _Repository(SlaRepository)
    triage = _Repository(TriageRepository)
    reports = _Repository(ReportRepository)
    report_inputs = _Repository(ReportInputRepository)
    calls = _Repository(CallRepository)
    cameras = _Repository(CameraRepository)
    safer_routes = _Repository(SaferRouteRepository)
    survey = _Repository(SurveyRepository)
    crime_records = _Repository(CrimeRecordRepository)
    evaluation_runs = _Repository(EvaluationRunRepository)

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        publish: Publisher | None = None,
        before_commit: BeforeCommit | None = None,
    ):
        self._session_factory = session_factory
        self._publish = publish
        self._before_commit = before_commit
        self._pending: list[tuple[str, Message]] = []
        self._pipeline: Pipelined | None = None
        self._read_only = False

    def reading(self) -> UnitOfWork:
        """`with uow.reading():` for a transaction that only reads. On SQLite it begins
        without the write lock (`database.reading`): it does not wait for the event writer's
        commits, nor make the writer wait for it. It cannot commit."""
        self._read_only = True
        return self

    def __enter__(self) -> UnitOfWork:
        if self._read_only:
            bind = self._session_factory.kw.get("bind")
            assert isinstance(bind, Engine)
            self._session = self._session_factory(bind=reading(bind))
        else:
            self._session = self._session_factory()
        for name in _REPOSITORIES:
            self.__dict__.pop(name, None)
        self._pending = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted without expiring loaded objects, so what a
        # use case returns stays readable after the unit of work ends.
        self._session.close()
        self._pending = []
        self._pipeline = None
        self._read_only = False

    def _queue(self, topic: str, message: Message) -> None:
        self._pending.append((topic, message))

    if TYPE_CHECKING:
        #: Queue a real-time message; it goes out only if the transaction commits. Typed per
        #: topic (`topics.Publish`), so mypy checks the message has its topic's shape; at run
        #: time it is `_queue` (a TypedDict is the plain dict it travels as: no wrapper, no
        #: cast on the alarm path).
        publish_after_commit: Publish
    else:
        publish_after_commit = _queue

    def no_autoflush(self) -> AbstractContextManager[Any]:
        """Inside it, a query does not first flush the objects added so far (the ingest of a
        batch builds them while it loads what it needs)."""
        return self._session.no_autoflush

    def flush(self) -> None:
        self._session.flush()

    def pipelined(self) -> Pipelined:
        """Inside it (entered before anything else in the transaction), on PostgreSQL, the
        statements the store sends without needing their answer (the ingest's event and
        audit inserts, touches, the chain head's move, the cluster's NOTIFY) go with the next
        one whose answer is needed, not one round trip each (`prepared.Pipelined`); `commit`
        waits for all of them before the COMMIT. Every other statement runs as usual. A
        no-op on SQLite."""
        engine = self._session.get_bind()
        assert isinstance(engine, Engine)
        allow_pipelines(engine)
        self._pipeline = Pipelined(self._session.connection())
        return self._pipeline

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a unit of work entered with reading() only reads: it cannot commit")
        self.audit.seal()
        if self._before_commit is not None and self._pending:
            self._before_commit(self._session, self._pending)
        if self._pipeline is not None:
            # Every statement sent must have run (a failed one raises here) before the COMMIT.
            pipeline, self._pipeline = self._pipeline, None
            pipeline.close()
        self._session.commit()
        pending, self._pending = self._pending, []
        if self._publish is not None:
            for topic, message in pending:
                self._publish(topic, message)

    def rollback(self) -> None:
        self.audit.discard_pending()
        self._session.rollback()
        self._pending = []


#: The names of the unit of work's repositories.
_REPOSITORIES = tuple(
    name for name, value in vars(UnitOfWork).items() if isinstance(value, _Repository)
)
