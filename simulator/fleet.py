"""A simulated fleet built on the SDK: every agent talks to the server over HTTP, like a real one.

Each agent runs a :class:`~mission_control_sdk.Heartbeat` and as many worker threads as its scale.
Workers claim pending executions (manual runs, cron, workflows), work through them with prompts,
provider calls, tool calls and completions, and finish them with usage; when there is nothing to
claim, agents also report work they did on their own. They obey stop, start, restart, scale and
abort, and back off on 402/423/429. A "flaky" agent now and then goes silent long enough to be
seen offline. Nothing here imports Django models: only the SDK and the fleet file.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mission_control_sdk import (
    AuthenticationError,
    BudgetExceeded,
    Client,
    Conflict,
    EmergencyStop,
    Heartbeat,
    MissionControlError,
    NotFound,
    RateLimited,
)

from intelligence import scenarios
from simulator import content

logger = logging.getLogger("mission_control.simulate")
STOP_GRACE_S = 2.5  # a stopping fleet waits this long for its agents


@dataclass
class Profile:
    name: str
    business: str
    key: str
    capabilities: list[str]
    model: str
    provider: str
    version: str = "1.0.0"
    runtime_location: str = "simulator"
    style: str = "pull"  # pull | autonomous | flaky

    @classmethod
    def load_all(cls, path: Path) -> list[Profile]:
        data = json.loads(path.read_text())
        fields = set(cls.__dataclass_fields__)
        return [cls(**{k: v for k, v in entry.items() if k in fields}) for entry in data["agents"]]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Stats:
    claimed: int = 0
    reported: int = 0
    succeeded: int = 0
    failed: int = 0
    aborted: int = 0
    commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def line(self) -> str:
        return (
            f"claimed {self.claimed}, reported {self.reported}, succeeded {self.succeeded}, "
            f"failed {self.failed}, aborted {self.aborted}, commands {self.commands}"
        )


class SimulatedAgent:
    """One agent: a heartbeat plus ``scale`` workers, all over HTTP."""

    def __init__(
        self,
        profile: Profile,
        url: str,
        *,
        stop: threading.Event,
        stats: Stats,
        speed: float,
        seed: int,
        scenario: scenarios.Timeline | None = None,
    ):
        self.profile = profile
        # A scenario's clock runs at ``speed`` from the moment the fleet starts.
        self.scenario = scenario
        self.began = time.monotonic()
        self.stop_event = stop
        self.stats = stats
        self.speed = speed
        self.rng = random.Random(seed)
        # Backoff waits on the stop event: a stopping fleet does not sleep through its retries.
        self.client = Client(url, profile.key, max_retries=6, backoff_max=20, sleep=stop.wait)
        self.lock = threading.Lock()
        self.running: set[int] = set()
        self.aborts: set[int] = set()
        self.workers: list[threading.Thread] = []
        self.replicas = 1
        self.silent_until = 0.0
        self.tasks_supported = True
        self.heartbeat = Heartbeat(
            self.client,
            status=self._status,
            running=self._running,
            version=profile.version,
            runtime_location=profile.runtime_location,
            # Not reported: the demo's capabilities are what the admin (and the seeds) set.
            capabilities=None,
            on_start=self._on_command,
            on_stop=self._on_command,
            on_restart=self._on_restart,
            on_scale=self._on_scale,
            on_abort=self._on_abort,
            on_error=self._on_heartbeat_error,
        )

    # --- heartbeat side ---------------------------------------------------------------------------

    def _status(self) -> str:
        with self.lock:
            return "active" if self.running else "idle"

    def _running(self) -> list[int]:
        with self.lock:
            return sorted(self.running)

    def _on_command(self, command: dict) -> None:
        self.stats.add(commands=1)
        logger.info("%s: %s (%s)", self.profile.name, command["type"], command.get("args") or "")

    def _on_restart(self, command: dict) -> None:
        self._on_command(command)
        self.stop_event.wait(1.0 / self.speed)  # a short reboot

    def _on_scale(self, command: dict) -> None:
        self._on_command(command)
        self.replicas = max(0, int(command.get("args", {}).get("replicas", self.replicas)))

    def _on_abort(self, command: dict) -> None:
        self._on_command(command)
        with self.lock:
            self.aborts.add(int(command.get("args", {}).get("execution", 0)))

    def _on_heartbeat_error(self, exc: Exception) -> None:
        if isinstance(exc, AuthenticationError):
            logger.error("%s: key refused (revoked?); this agent stops", self.profile.name)

    # --- lifecycle ----------------------------------------------------------------------------------

    def run(self) -> None:
        """Supervise: beat (unless playing dead), keep ``replicas`` workers alive, until stopped."""
        try:
            answer = self.heartbeat.beat_once()
        except MissionControlError as exc:
            logger.error("%s: cannot reach the server (%s)", self.profile.name, exc)
            return
        self.replicas = int(answer.get("scale") or 1)
        self.heartbeat.start()
        while not self.stop_event.is_set():
            if not self.heartbeat.alive and not self._playing_dead():
                if isinstance(self.heartbeat.last_error, AuthenticationError):
                    break
                self.heartbeat.start()
            self._maybe_go_silent()
            self.workers = [w for w in self.workers if w.is_alive()]
            while len(self.workers) < max(self.replicas, 0):
                index = len(self.workers)
                worker = threading.Thread(
                    target=self._work_loop, args=(index,), name=f"{self.profile.name}-{index}", daemon=True
                )
                self.workers.append(worker)
                worker.start()
            self.stop_event.wait(1.0)
        self.heartbeat.stop(timeout=1)
        deadline = time.monotonic() + 1.5  # workers finish the step they are on, or are left behind
        for worker in self.workers:
            worker.join(timeout=max(deadline - time.monotonic(), 0))
        self.client.close()

    def _playing_dead(self) -> bool:
        return self.silent_until > time.monotonic()

    def _maybe_go_silent(self) -> None:
        # The flaky agent sometimes loses its network for longer than its heartbeat timeout.
        if self.profile.style != "flaky" or self._playing_dead() or self.rng.random() > 0.004 * self.speed:
            return
        # Longer than the heartbeat timeout (about three intervals), whatever the speed.
        timeout = 3 * float(self.heartbeat.last_answer.get("heartbeat_interval_s") or 10)
        silence = self.rng.uniform(1.5, 3.0) * timeout
        logger.info("%s: going silent for %.0f s (simulated network loss)", self.profile.name, silence)
        self.silent_until = time.monotonic() + silence
        self.heartbeat.stop(timeout=1)

    def _work_loop(self, index: int) -> None:
        client = self.client.copy()
        try:
            while not self.stop_event.is_set() and index < self.replicas:
                if not self.heartbeat.should_work or self._playing_dead():
                    self.stop_event.wait(2)
                    continue
                try:
                    self._one_round(client, index)
                except (EmergencyStop, BudgetExceeded) as exc:
                    logger.info("%s: holding off (%s)", self.profile.name, exc.code)
                    self.stop_event.wait(15)
                except RateLimited as exc:
                    self.stop_event.wait(exc.retry_after or 5)
                except AuthenticationError:
                    return
                except MissionControlError as exc:
                    if self.stop_event.is_set():
                        return  # the server is stopping with us: not worth a warning
                    logger.warning("%s: %s", self.profile.name, exc)
                    self.stop_event.wait(3)
        finally:
            client.close()

    def _one_round(self, client: Client, index: int) -> None:
        if self.profile.style != "autonomous" or index > 0:
            work = client.claim_execution(wait_seconds=5)
            if work:
                self.stats.add(claimed=1)
                self._perform(client, work["id"], work.get("input") or {})
                return
        if self.tasks_supported and self.rng.random() < 0.05:
            try:
                task = client.claim_task()
            except NotFound:
                self.tasks_supported = False  # a server without the task board
                task = None
            if task:
                self._do_task(client, task)
                return
        if self.rng.random() < (0.5 if self.profile.style == "autonomous" else 0.12):
            self._autonomous(client)
        else:
            self.stop_event.wait(self.rng.uniform(2, 6) / self.speed)

    # --- doing work ---------------------------------------------------------------------------------

    def _plan(self, given: dict | None) -> dict:
        """The next piece of work, bent by the scenario when one runs (failures, durations, tokens,
        the version the heartbeat reports)."""
        work = content.plan(
            self.rng, self.profile.capabilities, self.profile.model, self.profile.provider, given
        )
        if self.scenario is None:
            return work
        t = (time.monotonic() - self.began) * self.speed
        shape = self.scenario.shape(self.profile.name, self.profile.provider, t)
        self.heartbeat.version = self.scenario.version(self.profile.name, t, base=self.profile.version)
        tokens = shape.tokens_factor
        input_tokens = int(work["input_tokens"] * tokens)
        return {
            **work,
            "failure": shape.error if self.rng.random() < shape.fail_p else None,
            "input_tokens": input_tokens,
            "output_tokens": int(work["output_tokens"] * tokens),
            "cache_read_tokens": min(int(work["cache_read_tokens"] * tokens), input_tokens),
            "duration_factor": shape.duration_factor,
        }

    def _autonomous(self, client: Client, given: dict | None = None) -> None:
        work = self._plan(given)
        if self.rng.random() < 0.3:  # done already: one terminal report carrying its logs
            self._report_done(client, work, given)
            return
        execution = client.report_execution(
            status="running",
            input=given or {"source": "schedule" if self.rng.random() < 0.5 else "inbox"},
            model=self.profile.model,
            model_provider=self.profile.provider,
            started_at=now_iso(),
        )
        self.stats.add(reported=1)
        self._perform(client, execution["id"], given or {}, work)

    def _report_done(self, client: Client, work: dict, given: dict | None) -> None:
        seconds = self.rng.uniform(1, 12) * work.get("duration_factor", 1.0)
        failed = work["failure"] is not None
        client.report_execution(
            status="failed" if failed else "success",
            input=given or {"source": "background"},
            output=None if failed else work["output"],
            error=work["failure"][1] if failed else "",
            error_type=work["failure"][0] if failed else "",
            duration_ms=int(seconds * 1000),
            model=work["model"],
            model_provider=work["provider"],
            input_tokens=work["input_tokens"],
            output_tokens=work["output_tokens"],
            cache_read_tokens=work["cache_read_tokens"],
            logs=self._logs(work),
        )
        self.stats.add(reported=1, failed=int(failed), succeeded=int(not failed))

    def _logs(self, work: dict) -> list[dict]:
        entries = [{"kind": "prompt", "level": "info", "message": work["prompt"], "ts": now_iso()}]
        entries.append(content.api_call_entry(self.rng, work["provider"], work["model"]))
        for name, args in work["tools"]:
            entries.append(content.tool_entry(self.rng, name, args))
        if work["failure"]:
            entries.append({"kind": "log", "level": "error", "message": work["failure"][1]})
        else:
            entries.append({"kind": "completion", "level": "info", "message": work["completion"]})
        return entries

    def _perform(self, client: Client, execution_id: int, given: dict, work: dict | None = None) -> None:
        work = work or self._plan(given)
        with self.lock:
            self.running.add(execution_id)
        try:
            steps = self._logs(work)
            pause = self.rng.uniform(1.5, 9.0) * work.get("duration_factor", 1.0) / self.speed / len(steps)
            for entry in steps:
                if self._aborted(execution_id):
                    self._finish(client, execution_id, work, aborted=True)
                    return
                entry.setdefault("ts", now_iso())
                client.append_logs(execution_id, [entry])
                if self.stop_event.wait(pause):
                    break
            self._finish(client, execution_id, work, aborted=self._aborted(execution_id))
        finally:
            with self.lock:
                self.running.discard(execution_id)
                self.aborts.discard(execution_id)

    def _aborted(self, execution_id: int) -> bool:
        with self.lock:
            return execution_id in self.aborts

    def _finish(self, client: Client, execution_id: int, work: dict, *, aborted: bool) -> None:
        usage = {
            "model": work["model"],
            "model_provider": work["provider"],
            "input_tokens": work["input_tokens"],
            "output_tokens": work["output_tokens"],
            "cache_read_tokens": work["cache_read_tokens"],
        }
        if aborted:
            fields = {"status": "aborted", "error": "Stopped on operator request."}
        elif work["failure"]:
            fields = {"status": "failed", "error": work["failure"][1], "error_type": work["failure"][0]}
        else:
            fields = {"status": "success", "output": work["output"]}
        try:
            client.update_execution(execution_id, **fields, **usage)
        except Conflict:
            return  # already terminal: aborted or timed out by the server meanwhile
        outcome = fields["status"]
        self.stats.add(**{"aborted" if aborted else ("failed" if outcome == "failed" else "succeeded"): 1})

    def _do_task(self, client: Client, task: dict) -> None:
        logger.info("%s: working on task #%s %s", self.profile.name, task.get("id"), task.get("title", ""))
        self._autonomous(client, {"task": task.get("id"), "title": task.get("title", "")})
        try:
            client.update_task(task["id"], status="review" if self.rng.random() < 0.5 else "done")
        except MissionControlError as exc:
            logger.info("%s: could not update task #%s (%s)", self.profile.name, task.get("id"), exc)


def run_fleet(
    profiles: list[Profile],
    url: str,
    *,
    stop: threading.Event,
    speed: float = 1.0,
    seed: int | None = None,
    scenario: scenarios.Timeline | None = None,
) -> Stats:
    """Run every profile as an agent until ``stop`` is set; returns the counts."""
    stats = Stats()
    rng = random.Random(seed)
    agents = [
        SimulatedAgent(
            p, url, stop=stop, stats=stats, speed=speed, seed=rng.randint(0, 2**31), scenario=scenario
        )
        for p in profiles
    ]
    threads = [threading.Thread(target=a.run, name=f"sim-{a.profile.name}", daemon=True) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and not stop.is_set():
            thread.join(timeout=0.5)
    # Stopping: agents finish the step they are on, but a request the server never answers (it is
    # stopping too) must not hold the fleet; the threads are daemons.
    deadline = time.monotonic() + STOP_GRACE_S
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    return stats
