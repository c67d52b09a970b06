"""The heartbeat loop: a background thread that reports presence and obeys commands.

Each answer carries the desired state, the pending commands and the governance flags. A command
is handed to its callback once, then acknowledged; if the acknowledgement fails the server keeps
delivering it and the loop acknowledges it again without calling the callback twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from mission_control_sdk.client import Client
from mission_control_sdk.errors import AuthenticationError, MissionControlError

logger = logging.getLogger("mission_control_sdk")

Callback = Callable[[dict], None]


class Heartbeat:
    """Beat in the background and dispatch commands to callbacks.

    Callbacks receive the command (``{"id", "type", "args"}``); ``on_scale`` finds the replica count
    in ``args["replicas"]`` and ``on_abort`` the execution id in ``args["execution"]``.

    >>> hb = Heartbeat(client, status=lambda: "active" if busy else "idle", on_stop=pause_work)
    >>> hb.start()
    >>> hb.should_work  # desired running, no emergency stop, budget not exhausted
    True
    """

    def __init__(
        self,
        client: Client,
        *,
        status: str | Callable[[], str] = "idle",
        running: Callable[[], Iterable[int]] | None = None,
        version: str | None = None,
        runtime_location: str | None = None,
        capabilities: Iterable[str] | None = None,
        interval: float | None = None,
        on_start: Callback | None = None,
        on_stop: Callback | None = None,
        on_restart: Callback | None = None,
        on_scale: Callback | None = None,
        on_abort: Callback | None = None,
        on_answer: Callable[[dict], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ):
        # Its own connections and few retries: a beat that is late is replaced by the next one.
        self.client = client.copy(max_retries=min(client.max_retries, 2))
        self.status = status
        self.running = running
        self.version = version
        self.runtime_location = runtime_location
        self.capabilities = list(capabilities) if capabilities is not None else None
        self.interval = interval
        self.callbacks: dict[str, Callback | None] = {
            "start": on_start,
            "stop": on_stop,
            "restart": on_restart,
            "scale": on_scale,
            "abort": on_abort,
        }
        self.on_answer = on_answer
        self.on_error = on_error
        self.last_answer: dict = {}
        self.desired_state = "running"
        self.emergency_stop = False
        self.budget_exhausted = False
        self.scale: int | None = None
        self.last_error: Exception | None = None
        self._handled: set[int] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.beats = 0

    @property
    def should_work(self) -> bool:
        """Whether the agent may take on work now."""
        return self.desired_state == "running" and not self.emergency_stop and not self.budget_exhausted

    def beat_once(self) -> dict:
        """Send one heartbeat, dispatch its new commands and acknowledge them; return the answer."""
        status = self.status() if callable(self.status) else self.status
        answer = self.client.heartbeat(
            status=status,
            version=self.version,
            runtime_location=self.runtime_location,
            capabilities=self.capabilities,
            running=list(self.running()) if self.running else None,
        )
        self.beats += 1
        self.last_answer = answer
        self.desired_state = answer.get("desired_state", self.desired_state)
        self.emergency_stop = bool(answer.get("emergency_stop"))
        self.budget_exhausted = bool(answer.get("budget_exhausted"))
        self.scale = answer.get("scale", self.scale)
        if self.on_answer:
            self.on_answer(answer)
        delivered = set()
        for command in answer.get("commands", []):
            delivered.add(command["id"])
            self._obey(command)
        # Forget commands the server no longer sends (acknowledged): the set stays small.
        self._handled &= delivered
        return answer

    def _obey(self, command: dict) -> None:
        if command["id"] not in self._handled:
            callback = self.callbacks.get(command.get("type"))
            try:
                if callback is not None:
                    callback(command)
            except Exception:  # a failing callback must not kill the heartbeat
                logger.exception("command %s (%s) callback failed", command["id"], command.get("type"))
            self._handled.add(command["id"])
        self.client.ack(command["id"])

    def next_interval(self) -> float:
        if self.interval is not None:
            return self.interval
        return float(self.last_answer.get("heartbeat_interval_s") or 10)

    def run(self) -> None:
        """The loop (``start`` runs it in a daemon thread). Ends on ``stop()`` or a refused key."""
        while not self._stopping.is_set():
            try:
                self.beat_once()
            except AuthenticationError as exc:
                logger.error("heartbeat refused (%s): the key is wrong or revoked; stopping", exc)
                self.last_error = exc
                if self.on_error:
                    self.on_error(exc)
                return
            except MissionControlError as exc:
                logger.warning("heartbeat failed: %s", exc)
                self.last_error = exc
                if self.on_error:
                    self.on_error(exc)
            else:
                self.last_error = None
            self._stopping.wait(self.next_interval())

    def start(self) -> Heartbeat:
        """Start (or restart, after ``stop()``) the loop in a daemon thread."""
        if self._thread is None or not self._thread.is_alive():
            if self.client.closed:
                self.client = self.client.copy()
            self._stopping.clear()
            self._thread = threading.Thread(target=self.run, name="mc-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
