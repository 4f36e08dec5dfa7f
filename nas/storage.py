"""Where a search study lives, and how several workers share it without losing, repeating or
double-counting a trial.

A study is an Optuna RDB storage: an SQLite file by default, PostgreSQL (or MySQL) when processes on
several machines share it. Every worker, a ``python -m nas.search`` process on this machine or
another, runs the same loop on the same study, and every decision that must be taken once is taken
through the storage, under the study's lock (:class:`StudyLock`): creating the schema and the study,
enqueueing the references, claiming the next trial (so that ``--trials`` is reached exactly), failing
and retrying the trial of a worker that died. The lock is a file lock beside an SQLite file and an
advisory lock of the database server otherwise (``pg_advisory_lock``, MySQL's ``GET_LOCK``); it is
held for milliseconds and released by the operating system or the server when its holder dies.

A worker is recognised by host, process id and process start time (:class:`Worker`), recorded on
every trial it runs. While a trial runs, a thread (:class:`Heartbeat`) records Optuna's heartbeat for
it (``RDBStorage(heartbeat_interval=...)``) and the worker's presence in the study. A trial whose
worker is gone is failed and enqueued again (:func:`retry`): at once when the worker was on this host
and its process no longer exists, after the grace period when the worker was on another host and
its heartbeat went stale (the trials Optuna's ``fail_stale_trials`` fails).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

__all__ = ["MAX_RETRIES", "Heartbeat", "StorageError", "StudyLock", "Worker", "display_url", "fail_dead_trials",
           "grace_period", "open_storage", "quiet_optuna_warnings", "resolve_url", "retry", "worker_alive"]

MAX_RETRIES = 2  # a trial whose worker died is run again at most this many times (then it stays failed)
_TRIAL_STATE = optuna.trial.TrialState


class StorageError(ValueError):
    """A storage that cannot be used as given: the message names the URL (password hidden) and the fix."""


# ----------------------------------------------------------------------------------------------
# URLs and drivers


_DRIVERS = {  # SQLAlchemy dialect+driver -> (module to import, what to install)
    "postgresql+psycopg": ("psycopg", "pip install 'nas[postgres]' (psycopg 3)"),
    "postgresql+psycopg2": ("psycopg2", "pip install psycopg2-binary, or use postgresql:// with 'nas[postgres]'"),
    "postgresql+pg8000": ("pg8000", "pip install pg8000"),
    "mysql+mysqldb": ("MySQLdb", "pip install mysqlclient, or use mysql+pymysql:// with PyMySQL"),
    "mysql+pymysql": ("pymysql", "pip install PyMySQL"),
}


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def resolve_url(url: str) -> str:
    """The storage URL SQLAlchemy should open: ``postgresql://`` (or ``postgres://``) gets the driver
    that is installed (psycopg 3, else psycopg2), ``mysql://`` MySQLdb, else PyMySQL. A missing driver
    or an unknown scheme is a :class:`StorageError` naming what to install."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"--storage {url!r} is not a database URL: use sqlite:///PATH.db, "
                           "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE or mysql://...") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # Heroku's and libpq's spelling
        parsed = parsed.set(drivername="postgresql")
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql", "mysql"):
        raise StorageError(f"--storage {display_url(url)!r}: {backend!r} is not supported; use sqlite:///PATH.db, "
                           "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE or mysql://...")
    if parsed.drivername == "postgresql":
        driver = "psycopg" if _importable("psycopg") or not _importable("psycopg2") else "psycopg2"
        parsed = parsed.set(drivername=f"postgresql+{driver}")
    elif parsed.drivername == "mysql":
        driver = "mysqldb" if _importable("MySQLdb") or not _importable("pymysql") else "pymysql"
        parsed = parsed.set(drivername=f"mysql+{driver}")
    module, install = _DRIVERS.get(parsed.drivername, (None, None))
    if module is not None and not _importable(module):
        raise StorageError(f"--storage {display_url(url)!r}: the database driver {module!r} is not installed: "
                           f"{install}")
    return parsed.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and summaries."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL, None for an in-memory one or another backend."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


# ----------------------------------------------------------------------------------------------
# the study lock


_ENGINES: dict[str, Any] = {}
_THREAD_LOCKS: dict[str, threading.RLock] = {}


class StudyLock:
    """A lock shared by every process that opens ``url``, for decisions that must be taken once.

    SQLite: a file lock on ``<database>.lock`` (SQLite files are shared by processes of one machine);
    PostgreSQL: ``pg_advisory_lock``; MySQL: ``GET_LOCK``, both on a connection of their own, so that
    the server releases the lock if its holder dies. Re-entrant within a process.

    Args:
        url: a URL as :func:`resolve_url` returns it.
        name: what is locked (the study's name); every lock of one SQLite file is the same file lock.
    """

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self._path = _sqlite_path(url)
        self._backend = url.split(":", 1)[0].split("+", 1)[0]
        self._local = _THREAD_LOCKS.setdefault(f"{url}\0{name}", threading.RLock())
        self._depth = 0
        self._held: Any = None

    def __enter__(self) -> StudyLock:
        self._local.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                self._held = self._acquire()
            except BaseException:
                self._depth -= 1
                self._local.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                held, self._held = self._held, None
                self._release(held)
        finally:
            self._local.release()

    def _key(self) -> int:
        # a signed 64-bit key for pg_advisory_lock, the same in every process
        return int.from_bytes(hashlib.sha256(f"nas:{self.name}".encode()).digest()[:8], "big", signed=True)

    def _mysql_name(self) -> str:  # MySQL lock names have at most 64 characters
        return f"nas:{hashlib.sha256(self.name.encode()).hexdigest()[:40]}"

    def _acquire(self) -> Any:
        if self._backend == "sqlite":
            if self._path is None:  # in memory: one process only
                return None
            from filelock import FileLock

            lock = FileLock(f"{self._path}.lock")
            try:
                lock.acquire()
            except OSError as exc:
                raise StorageError(f"cannot create the lock file {self._path}.lock beside the study's database: "
                                   f"{exc.strerror or exc}; the folder {self._path.parent} must be writable "
                                   "(or give --studies-dir/--storage elsewhere)") from None
            return lock
        import sqlalchemy

        engine = _ENGINES.get(self.url)
        if engine is None:
            engine = _ENGINES[self.url] = sqlalchemy.create_engine(self.url, pool_pre_ping=True)
        conn = engine.connect()
        if self._backend == "postgresql":
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self._key()})
        else:
            conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"), {"n": self._mysql_name()})
        conn.commit()
        return conn

    def _release(self, held: Any) -> None:
        if held is None:
            return
        if self._backend == "sqlite":
            held.release()
            return
        import sqlalchemy

        try:
            if self._backend == "postgresql":
                held.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key()})
            else:
                held.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": self._mysql_name()})
            held.commit()
        finally:
            held.close()


# ----------------------------------------------------------------------------------------------
# opening a storage


def grace_period(heartbeat: int) -> int:
    """Seconds without a heartbeat after which a trial of another host counts as dead: four
    heartbeats, so that one slow write or a busy database does not fail a live trial."""
    return 4 * heartbeat


def open_storage(url: str, *, heartbeat: int) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage for ``url`` (already resolved) with heartbeats every ``heartbeat`` seconds
    (see :func:`fail_dead_trials` for what becomes of a trial whose heartbeat goes stale). The schema is created under
    the lock, so that workers starting at the same moment on a new database do not race to create it.

    Raises:
        StorageError: the database cannot be opened or written (the message says why and what to do).
    """
    engine_kwargs: dict[str, Any] = {}
    path = _sqlite_path(url)
    if path is not None:
        # several processes write the file: wait for each other's transactions instead of failing at once
        engine_kwargs["connect_args"] = {"timeout": 60}
        if not path.parent.is_dir():
            raise StorageError(f"--storage {url!r}: the folder {str(path.parent)!r} does not exist")
    try:
        with StudyLock(url, "schema"), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                                              grace_period=grace_period(heartbeat))
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any database problem is the user's to fix; say which
        raise StorageError(f"cannot open the study storage {display_url(url)!r}: {_root_cause(exc)}") from None


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# ----------------------------------------------------------------------------------------------
# workers


def _process(pid: int) -> tuple[str, int] | None:
    """(state, start in clock ticks since boot) of process ``pid`` from ``/proc`` (Linux); None elsewhere
    or when there is no such process. The start tells a reused pid apart; the state a zombie (a dead
    worker its parent has not reaped yet) from a live one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0], int(fields[19])  # fields 3 and 22 of proc(5)


def _start_ticks(pid: int) -> int | None:
    process = _process(pid)
    return process[1] if process else None


@dataclass(frozen=True)
class Worker:
    """A search process: where it runs and which process it is. Stored on each trial it runs (the
    trial's ``worker`` user attribute) and in the study (``worker:<host>:<pid>``, with when it was
    last seen)."""

    host: str
    pid: int
    ticks: int | None = None  # process start (Linux), so that a reused pid is not taken for the worker

    @classmethod
    def current(cls) -> Worker:
        return cls(socket.gethostname(), os.getpid(), _start_ticks(os.getpid()))

    @classmethod
    def from_attr(cls, value: Any) -> Worker | None:
        if not isinstance(value, dict) or "host" not in value or "pid" not in value:
            return None
        return cls(str(value["host"]), int(value["pid"]), value.get("ticks"))

    @property
    def key(self) -> str:
        return f"{self.host}:{self.pid}"

    def attr(self) -> dict[str, Any]:
        return asdict(self)

    def local(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool | None:
        """True or False for a process of this host; None (not known from here) for another host."""
        if not self.local():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, another user's
            pass
        process = _process(self.pid)
        if process is None:  # no /proc here: the pid exists, which is all we can tell
            return True
        state, ticks = process
        return state not in ("Z", "X") and (self.ticks is None or ticks == self.ticks)


def worker_alive(study: optuna.Study, worker: Worker, *, heartbeat: int) -> bool:
    """Whether ``worker`` is still there: its process on this host; on another, a presence recorded by
    its :class:`Heartbeat` within the grace period."""
    alive = worker.alive()
    if alive is not None:
        return alive
    seen = study.user_attrs.get(f"worker:{worker.key}")
    return isinstance(seen, dict) and time.time() - float(seen.get("seen", 0)) < grace_period(heartbeat)


class Heartbeat:
    """A thread that every ``interval`` seconds records Optuna's heartbeat of the trial this worker
    runs (if any) and the worker's presence in the study (the ``worker:<host>:<pid>`` study user
    attribute: host, pid, threads, device, when last seen). A failed write (a busy database) is
    tried again at the next beat, never raised into the training."""

    def __init__(self, study: optuna.Study, worker: Worker, interval: int, info: dict[str, Any]) -> None:
        self.study, self.worker, self.interval, self.info = study, worker, interval, info
        self._trial_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nas-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def running(self, trial_id: int | None) -> None:
        """The trial this worker runs from now on (None between trials); beats at once for it."""
        self._trial_id = trial_id
        if trial_id is not None:
            self.study._storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]

    def beat(self) -> None:
        trial_id = self._trial_id
        if trial_id is not None:
            self.study._storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
        self.study.set_user_attr(f"worker:{self.worker.key}", {**self.worker.attr(), **self.info, "seen": time.time()})

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a busy or briefly unreachable database: beat again later
                continue


# ----------------------------------------------------------------------------------------------
# dead trials


def retry(study: optuna.Study, trial: optuna.trial.FrozenTrial, reason: str, *, count_death: bool = True) -> bool:
    """Enqueue ``trial`` again: a WAITING trial with its parameters, its ``reference`` name if it is one,
    ``retry_of`` its number and ``retry_reason``. A trial whose worker died (``count_death``) is run
    again at most :data:`MAX_RETRIES` times, so that a network that kills its worker (out of memory)
    does not stop the search; one stopped by Ctrl-C always is. ``failed_trial`` and ``retry_history``
    follow Optuna's ``RetryHeartbeatStaleTrialCallback``. Returns whether it was enqueued. Call it
    once per stopped trial: under the study's lock, or as the worker that ran the trial."""
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    deaths = int(trial.system_attrs.get("nas:deaths", 0)) + int(count_death)
    if deaths > MAX_RETRIES:
        return False
    user_attrs = {"retry_of": trial.number, "retry_reason": reason}
    if trial.user_attrs.get("reference"):
        user_attrs["reference"] = trial.user_attrs["reference"]
    study.add_trial(optuna.trial.create_trial(
        state=_TRIAL_STATE.WAITING, params=trial.params, distributions=trial.distributions, user_attrs=user_attrs,
        system_attrs={"failed_trial": history[0], "retry_history": history, "nas:deaths": deaths}))
    return True


def fail_dead_trials(study: optuna.Study, *, heartbeat: int) -> list[int]:
    """Fail, and enqueue again, the running trials whose worker is gone; returns their numbers.

    On this host a worker is gone as soon as its process is; on another host, once its heartbeat is
    older than :func:`grace_period` (the trials Optuna's ``fail_stale_trials`` would fail; a worker of
    this host is judged by its process alone). A running trial that records no worker (left by a
    version of nas without workers) is gone once it is older than the grace period. Call it under the
    study's lock, so that each dead trial is retried once.
    """
    storage = study._storage  # type: ignore[attr-defined]
    stale = set(storage._get_stale_trial_ids(study._study_id))  # type: ignore[attr-defined]
    failed = []
    now = time.time()
    for t in study.get_trials(deepcopy=False, states=(_TRIAL_STATE.RUNNING,)):
        worker = Worker.from_attr(t.user_attrs.get("worker"))
        if worker is not None and worker.local():
            if worker.alive():
                continue
            reason = f"worker {worker.key} died (its process is gone)"
        elif worker is not None:
            if t._trial_id not in stale:
                continue
            reason = f"worker {worker.key} sent no heartbeat for {grace_period(heartbeat)} s (stopped, killed or cut off)"
        else:
            started = t.datetime_start.timestamp() if t.datetime_start else now
            if now - started < grace_period(heartbeat):
                continue
            reason = "left running by a worker that stopped"
        try:
            storage.set_trial_user_attr(t._trial_id, "fail_reason", f"{reason}; run again")
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            if not storage.set_trial_state_values(t._trial_id, state=_TRIAL_STATE.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # it finished meanwhile
        retry(study, storage.get_trial(t._trial_id), reason)
        failed.append(t.number)
    return failed


@contextmanager
def quiet_optuna_warnings() -> Iterator[None]:
    """Optuna warns that heartbeats are meant for ``Study.optimize``; this search records them itself
    (:class:`Heartbeat`) around ``ask``/``tell``, which Optuna's own ``optimize`` does the same way."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
