"""Many workers on one study, and workers that die: real processes, a real SIGKILL and SIGINT, SQLite
and a real PostgreSQL server (``NAS_TEST_POSTGRES=postgresql://USER:PASSWORD@HOST/DB``; ``.ci/run``
starts one and sets ``NAS_REQUIRE_POSTGRES=1``, so that there these tests cannot skip).

After each run the accounting is checked trial by trial: candidates counted against ``--trials``,
references, trials stopped and run again, repeats, nothing left running or waiting, no network
trained twice, the same summary from every worker that finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest

import nas
from nas import storage as nas_storage
from nas.search import trial_outcomes
from nas.storage import (StorageError, StudyLock, Worker, fail_dead_trials, open_storage, quiet_optuna_warnings,
                         resolve_url)

POSTGRES = os.environ.get("NAS_TEST_POSTGRES")
REQUIRE_POSTGRES = os.environ.get("NAS_REQUIRE_POSTGRES") == "1"
# a digits protocol slow enough (a second or two a trial on one thread) for a kill to land mid-trial
PROTOCOL = ["--dataset", "digits", "--epochs", "1", "--train-size", "300", "--val-size", "60", "--batch-size", "32",
            "--no-progress", "--heartbeat", "2", "--threads", "1"]


def postgres_url() -> str:
    if POSTGRES:
        return POSTGRES
    if REQUIRE_POSTGRES:
        pytest.fail("NAS_REQUIRE_POSTGRES=1 but NAS_TEST_POSTGRES is not set: .ci/run must start PostgreSQL and set it")
    pytest.skip("no PostgreSQL server: set NAS_TEST_POSTGRES=postgresql://USER:PASSWORD@HOST/DB to run this test")


def start_worker(cwd: Path, log: str, *args: str) -> subprocess.Popen:
    out = open(cwd / f"{log}.out", "w")  # noqa: SIM115 - closed when the process is reaped, below
    err = open(cwd / f"{log}.err", "w")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "nas.search", *args], cwd=cwd, stdout=out, stderr=err,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=resolve_url(url))


def kill_mid_trial(url: str, name: str, procs: list[subprocess.Popen], *, reference: bool, deadline: float = 300,
                   after_rung: bool = False) -> optuna.trial.FrozenTrial:
    """SIGKILL the worker of a trial that is training (a reference's or a candidate's), before its first
    epoch ends (``after_rung``: a candidate that successive halving let go on past its first rung);
    returns the trial as it was."""
    end = time.monotonic() + deadline
    study = None  # loaded once it exists: loading it again at every look would make the looks too far apart
    while time.monotonic() < end and any(p.poll() is None for p in procs):
        try:
            study = study or load(url, name)
            trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        except Exception:  # noqa: BLE001 - the study does not exist yet
            trials = []
        for t in trials:
            promoted = [d for d in t.user_attrs.get("halving", []) if d["position"] < d["kept"]]
            if t.user_attrs.get("status") == "training" and bool(t.user_attrs.get("reference")) == reference \
                    and (len(t.user_attrs.get("val_curve", [])) == 1 and promoted if after_rung
                         else not t.user_attrs.get("val_curve")):
                os.kill(t.user_attrs["worker"]["pid"], signal.SIGKILL)
                return t
        time.sleep(0.2)
    pytest.fail(f"no {'reference' if reference else 'candidate'} was seen training before the workers ended "
                f"(or within {deadline} s)")


def check_accounting(study: optuna.Study, *, trials: int, references: set[str], killed: optuna.trial.FrozenTrial | None
                     ) -> Counter:
    """Everything a finished study must hold, whatever happened to its workers; returns the outcome counts."""
    all_trials = study.get_trials(deepcopy=False)
    outcomes = trial_outcomes(all_trials)
    counts = Counter(outcomes.values())
    assert counts["running"] == 0 and counts["waiting"] == 0, counts  # no zombie, nothing left behind
    candidates = [t for t in all_trials if not t.user_attrs.get("reference")]
    counted = [t for t in candidates if outcomes[t.number] in ("trained", "stopped", "failed")]
    assert len(counted) == trials, f"--trials {trials} but {len(counted)} candidates: {counts}"
    trained = [t for t in all_trials if outcomes[t.number] == "trained"]
    genomes = [t.user_attrs["genome"] for t in trained]
    assert len(genomes) == len(set(genomes)), "a network was trained twice"
    assert len({t.user_attrs["genome"] for t in counted}) == len(counted), "two candidates are the same network"
    done_refs = Counter(t.user_attrs["reference"] for t in all_trials
                        if t.user_attrs.get("reference") and outcomes[t.number] in ("trained", "repeat"))
    assert done_refs == dict.fromkeys(references, 1), done_refs  # each reference exactly once
    stopped = [t for t in all_trials if outcomes[t.number] == "retried"]
    if killed is not None:
        assert [t.number for t in stopped] == [killed.number], stopped
        dead = stopped[0]
        assert dead.state == optuna.trial.TrialState.FAIL and "died" in dead.user_attrs["fail_reason"]
        retries = [t for t in all_trials if t.user_attrs.get("retry_of") == killed.number]
        assert len(retries) == 1 and outcomes[retries[0].number] in ("trained", "stopped", "repeat")
        # the same network: every parameter the killed trial had (a space may add ones its genome ignores)
        assert killed.params.items() <= retries[0].params.items()
        assert retries[0].user_attrs["genome"] == killed.user_attrs["genome"]
        assert retries[0].user_attrs.get("reference") == killed.user_attrs.get("reference")
    else:
        assert not stopped
    return counts


def run_workers(tmp_path: Path, n: int, args: list[str], *, url: str, name: str, kill: str | None
                ) -> tuple[list[int], list[str], optuna.trial.FrozenTrial | None]:
    procs = [start_worker(tmp_path, f"worker{k}", *args) for k in range(n)]  # all at the same moment
    killed = (kill_mid_trial(url, name, procs, reference=kill == "reference", after_rung=kill == "promoted")
              if kill else None)
    codes = [p.wait(timeout=600) for p in procs]
    outs = [(tmp_path / f"worker{k}.out").read_text() for k in range(n)]
    return codes, outs, killed


# PostgreSQL: 4 workers and every reference, one killed while it trains a reference; SQLite: 2 workers
# and no reference, one killed while it trains a candidate; PostgreSQL with successive halving: 3
# workers, one killed while it trains a candidate past its first rung
@pytest.mark.parametrize("backend, n, references, kill", [("sqlite", 2, "none", "candidate"),
                                                          ("postgresql", 4, "all", "reference"),
                                                          ("postgresql", 3, "none", "promoted")])
def test_workers_started_at_once_one_killed_mid_trial(tmp_path: Path, backend: str, n: int, references: str,
                                                       kill: str) -> None:
    name = f"w{uuid.uuid4().hex[:10]}"
    url = postgres_url() if backend == "postgresql" else f"sqlite:///{tmp_path / 'shared.db'}"
    trials = 6 if kill == "promoted" else 4
    # a promoted candidate's second epoch is the window to kill it in: 1,000 images (PROTOCOL's 300 overridden)
    # make it last seconds, not a fraction of one that the looks at the study could miss
    halving = (["--fidelity", "asha", "--epochs", "2", "--eta", "2", "--train-size", "1000"] if kill == "promoted"
               else [])
    args = ["--space", "mobile", "--budget", "2G", "--trials", str(trials), "--references", references,
            "--storage", url, "--study-name", name, *PROTOCOL, *halving]
    codes, outs, killed = run_workers(tmp_path, n, args, url=url, name=name, kill=kill)
    victim = [k for k, c in enumerate(codes) if c == -signal.SIGKILL]
    assert len(victim) == 1 and all(c == 0 for k, c in enumerate(codes) if k not in victim), (codes, [
        (tmp_path / f"worker{k}.err").read_text()[-2000:] for k in range(n)])
    study = load(url, name)
    expected = set(nas.get_space("mobile").references) if references == "all" else set()
    check_accounting(study, trials=trials, references=expected, killed=killed)
    # every worker that finished printed the same summary, with every reference and a test accuracy for each
    survivors = [outs[k] for k in range(n) if k not in victim]
    assert all(o == survivors[0] for o in survivors), survivors
    for ref in expected:
        line = next(line for line in survivors[0].splitlines() if line.strip().startswith(ref))
        assert "test -" not in line, line
    assert "nas:***@" in survivors[0] or backend == "sqlite"  # the password is never printed
    if kill == "promoted":  # the killed candidate's rung result counts in no judgement made after its death
        trials_ = study.get_trials(deepcopy=False)
        rung = [t for t in trials_ if t.state != optuna.trial.TrialState.FAIL and "1" in t.user_attrs.get("rungs", {})]
        assert all(d["of"] <= len(rung) for t in rung for d in t.user_attrs["halving"])
        assert trial_outcomes(trials_)[killed.number] == "retried" and "1" in study.trials[killed.number].user_attrs["rungs"]
    if backend == "postgresql":
        optuna.delete_study(study_name=name, storage=resolve_url(url))


def test_the_same_network_sampled_by_two_workers_is_trained_once(tmp_path: Path) -> None:
    url, name = f"sqlite:///{tmp_path / 'shared.db'}", "twins"
    genome = nas.get_space("mobile").references["mobilenet_v3_small"]
    study = optuna.create_study(study_name=name, storage=url, directions=["maximize", "minimize"])
    for _ in range(2):
        study.enqueue_trial(nas.get_space("mobile").to_params(genome))
    args = ["--space", "mobile", "--budget", "2G", "--trials", "1", "--references", "none", "--storage", url,
            "--study-name", name, *PROTOCOL]
    codes, outs, _ = run_workers(tmp_path, 2, args, url=url, name=name, kill=None)
    assert codes == [0, 0]
    counts = check_accounting(load(url, name), trials=1, references=set(), killed=None)
    assert counts == {"trained": 1, "repeat": 1}
    first, second = sorted(load(url, name).trials, key=lambda t: t.number)
    repeat, original = (second, first) if "repeat_of" in second.user_attrs else (first, second)
    assert repeat.user_attrs["repeat_of"] == original.number and repeat.values == original.values
    assert "train_seconds" not in repeat.user_attrs and "1 repeat of trained networks" in outs[0]


def test_workers_option_divides_the_cores(tmp_path: Path) -> None:
    args = ["--space", "mobile", "--budget", "2G", "--trials", "3", "--references", "none", "--workers", "2",
            "--studies-dir", "studies", "--study-name", "two", *PROTOCOL[:-2]]  # the threads are --workers' to divide
    proc = start_worker(tmp_path, "parent", *args)
    assert proc.wait(timeout=600) == 0, (tmp_path / "parent.err").read_text()
    study = load(f"sqlite:///{tmp_path / 'studies' / 'two' / 'study.db'}", "two")
    workers = {k: v for k, v in study.user_attrs.items() if k.startswith("worker:")}
    cores = len(os.sched_getaffinity(0))
    assert len(workers) == 2 and {w["threads"] for w in workers.values()} == {max(1, cores // 2)}
    check_accounting(study, trials=3, references=set(), killed=None)
    assert {t.user_attrs["worker"]["pid"] for t in study.trials} <= {w["pid"] for w in workers.values()}
    out = (tmp_path / "parent.out").read_text()
    assert out.count("Pareto set") == 1 and "3 candidates" in out


def test_ctrl_c_on_a_reference_runs_it_again(tmp_path: Path) -> None:
    url, name = f"sqlite:///{tmp_path / 'shared.db'}", "ctrlc"
    args = ["--space", "mobile", "--budget", "60M", "--trials", "2", "--references", "feasible", "--storage", url,
            "--study-name", name, *PROTOCOL]
    proc = start_worker(tmp_path, "first", *args)
    end = time.monotonic() + 300
    while time.monotonic() < end:
        try:
            running = load(url, name).get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        except Exception:  # noqa: BLE001 - not created yet
            running = []
        if any(t.user_attrs.get("status") == "training" for t in running):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert proc.wait(timeout=120) == 130
    assert "rerun the same command to resume" in (tmp_path / "first.err").read_text()
    stopped = [t for t in load(url, name).trials if t.user_attrs.get("interrupted")]
    assert [t.user_attrs["reference"] for t in stopped] == ["mobilenet_v3_small"]
    assert start_worker(tmp_path, "again", *args).wait(timeout=600) == 0
    study = load(url, name)
    outcomes = trial_outcomes(study.trials)
    refs = [t for t in study.trials if t.user_attrs.get("reference") == "mobilenet_v3_small"]
    assert [outcomes[t.number] for t in refs] == ["retried", "trained"]
    assert refs[1].user_attrs["retry_of"] == refs[0].number
    assert "mobilenet_v3_small" in (tmp_path / "again.out").read_text().split("references (")[1]


# ----------------------------------------------------------------------------------------------
# the pieces, in one process


def test_a_dead_local_worker_is_seen_at_once_and_a_silent_remote_one_after_the_grace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    storage = open_storage(url, heartbeat=1)  # grace: 4 s
    study = optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    zombie = subprocess.Popen(["sleep", "60"])  # killed, and not reaped yet by its parent (this process)
    zombie_worker = Worker(Worker.current().host, zombie.pid, nas_storage._start_ticks(zombie.pid))
    os.kill(zombie.pid, signal.SIGKILL)
    with quiet_optuna_warnings():  # asked outside Study.optimize, as the search does
        me, dead, undead, remote, legacy = study.ask(), study.ask(), study.ask(), study.ask(), study.ask()
    me.set_user_attr("worker", Worker.current().attr())
    dead.set_user_attr("worker", Worker(Worker.current().host, gone.pid).attr())
    undead.set_user_attr("worker", zombie_worker.attr())
    remote.set_user_attr("worker", Worker("another-machine", 4242).attr())
    for t in (me, remote):
        storage.record_heartbeat(t._trial_id)
    time.sleep(0.5)
    with StudyLock(url, "s"):  # at once, without waiting for a heartbeat
        assert fail_dead_trials(study, heartbeat=1) == [dead.number, undead.number]
    zombie.wait()
    time.sleep(5)  # the remote worker's heartbeat is now older than the grace period; ours too, but we are alive
    with StudyLock(url, "s"):  # and a trial left running by an older nas, with no worker recorded, is as old
        assert fail_dead_trials(study, heartbeat=1) == [remote.number, legacy.number]
    states = {t.number: t.state for t in study.trials}
    assert states[me.number] == optuna.trial.TrialState.RUNNING
    retries = {t.user_attrs["retry_of"]: t for t in study.trials if "retry_of" in t.user_attrs}
    assert set(retries) == {dead.number, undead.number, remote.number, legacy.number}
    assert all(t.state == optuna.trial.TrialState.WAITING for t in retries.values())
    assert "another-machine:4242 sent no heartbeat" in retries[remote.number].user_attrs["retry_reason"]


def test_a_worker_that_dies_again_and_again_is_not_retried_forever(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'db.sqlite'}", directions=["maximize", "minimize"])
    trial = study.ask()
    trial.suggest_int("x", 0, 9)
    frozen = study.tell(trial, state=optuna.trial.TrialState.FAIL)
    for attempt in range(nas_storage.MAX_RETRIES + 1):
        enqueued = nas_storage.retry(study, frozen, "died")
        assert enqueued == (attempt < nas_storage.MAX_RETRIES)
        if enqueued:
            again = study.ask()
            assert again.params == frozen.params
            frozen = study.tell(again, state=optuna.trial.TrialState.FAIL)
    assert nas_storage.retry(study, frozen, "Ctrl-C", count_death=False)  # an interruption is always run again


def test_postgresql_urls_as_users_type_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://")
    assert resolve_url("postgres://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    monkeypatch.setattr(nas_storage, "_importable", lambda module: False)
    with pytest.raises(StorageError, match=r"driver 'psycopg' is not installed: pip install 'nas\[postgres\]'") as exc:
        resolve_url("postgresql://user:secret@db.example.org/nas")
    assert "secret" not in str(exc.value) and "user:***@db.example.org" in str(exc.value)
    with pytest.raises(StorageError, match="'redis' is not supported"):
        resolve_url("redis://localhost:6379")
    with pytest.raises(StorageError, match="is not a database URL"):
        resolve_url("studies/x.db")


def test_postgresql_lock_excludes_another_process() -> None:
    url = resolve_url(postgres_url())
    name = f"lock{uuid.uuid4().hex[:8]}"
    code = ("import time; from nas.storage import StudyLock\n"
            f"lock = StudyLock({url!r}, {name!r})\n"
            "print('ready', flush=True); t = time.monotonic()\n"
            "with lock: print(round(time.monotonic() - t, 1), flush=True)\n")
    with StudyLock(url, name):
        other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline().strip() == "ready"
        time.sleep(2)
        assert other.poll() is None  # still waiting for the lock
    out, _ = other.communicate(timeout=60)
    assert float(out) >= 1.9
