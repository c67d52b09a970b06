"""The HTTP client an agent uses: one method per endpoint of the agent side of the API.

Retries: a request is retried with exponential backoff and full jitter, honouring ``Retry-After``,
when the server could not have acted on it (connection refused, 429, 503) and, for requests that are
safe to repeat, also on other 5xx answers and lost responses. Every call is made safe to repeat:
reports carry an ``external_id``, claims of executions and tasks a ``claim_id`` (a retried claim
answers what the first attempt took) and log entries a ``client_id`` (a retried append adds nothing
twice), each generated once per call and kept across its retries.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

from mission_control_sdk import __version__
from mission_control_sdk.errors import MissionControlError, TransportError, error_for

logger = logging.getLogger("mission_control_sdk")

# Answers after which the server did nothing: always worth another try.
ALWAYS_RETRY_STATUS = frozenset({429, 503})
# Answers after which the server may have acted: retried only when repeating is harmless.
IDEMPOTENT_RETRY_STATUS = frozenset({500, 502, 504})


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Client:
    """A Mission Control client for one agent key.

    >>> client = Client("https://mc.example.com", "mca_...")
    >>> client.heartbeat(status="idle", version="1.2.0")["desired_state"]
    'running'
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        user_agent: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.user_agent = user_agent or f"mission-control-sdk/{__version__}"
        self._transport = transport
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1/",
            headers={
                **({"Authorization": f"Bearer {key}"} if key else {}),
                "User-Agent": self.user_agent,
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
        )

    def copy(self, **overrides) -> Client:
        """A client with the same settings and its own connections (e.g. for another thread)."""
        settings = {
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "backoff_base": self.backoff_base,
            "backoff_max": self.backoff_max,
            "user_agent": self.user_agent,
            "transport": self._transport,
            "sleep": self._sleep,
        }
        settings.update(overrides)
        return Client(self.base_url, self.key, **settings)

    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): the server's ``Retry-After`` when it
        gave one (plus a little jitter so a fleet does not return in lockstep), else full jitter
        over an exponentially growing window."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max * 4) + random.uniform(0, min(1.0, self.backoff_base))
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send a request with retries; return the response (2xx) or raise a typed error."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path.lstrip("/"), json=json, params=params, timeout=timeout or self.timeout
                )
            except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc  # our bug: never retry
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never reached the server: repeating it is always safe.
                error: MissionControlError = TransportError(f"{type(exc).__name__}: {exc}")
                retry_after = None
            except httpx.TransportError as exc:
                error = TransportError(f"{type(exc).__name__}: {exc}")
                retry_after = None
                if not idempotent:
                    raise error from exc
            else:
                if response.status_code < 400:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = error_for(response.status_code, _json_or_none(response), retry_after)
                retryable = response.status_code in ALWAYS_RETRY_STATUS or (
                    idempotent and response.status_code in IDEMPOTENT_RETRY_STATUS
                )
                if not retryable:
                    raise error
            if attempt >= self.max_retries:
                raise error
            delay = self.backoff(attempt, retry_after)
            logger.info("%s %s failed (%s); retry %d in %.1fs", method, path, error, attempt + 1, delay)
            self._sleep(delay)
            attempt += 1

    def _json(self, method: str, path: str, **kwargs) -> dict | None:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- the agent side --------------------------------------------------------------------------

    def health(self) -> dict:
        """``GET /health`` (no key needed): 200 when the server and its dependencies are up."""
        return self._json("GET", "health")

    def heartbeat(
        self,
        *,
        status: str = "idle",
        version: str | None = None,
        runtime_location: str | None = None,
        capabilities: Iterable[str] | None = None,
        running: Iterable[int] | None = None,
    ) -> dict:
        """Report presence; the answer has ``desired_state``, ``commands`` (until acknowledged),
        ``emergency_stop``, ``budget_exhausted``, ``scale`` and ``heartbeat_interval_s``."""
        body: dict[str, Any] = {"status": status}
        if version is not None:
            body["version"] = version
        if runtime_location is not None:
            body["runtime_location"] = runtime_location
        if capabilities is not None:
            body["capabilities"] = list(capabilities)
        if running is not None:
            body["running"] = list(running)
        return self._json("POST", "agent/heartbeat", json=body)

    def ack(self, command_id: int) -> dict:
        """Acknowledge a command so that it is no longer delivered (safe to repeat)."""
        return self._json("POST", f"agent/commands/{command_id}/ack")

    def claim_execution(self, wait_seconds: float = 0) -> dict | None:
        """Claim this agent's next pending execution (now ``running``), waiting up to
        ``wait_seconds`` (0..30) for one to arrive; None when there is none. Retried like any
        safe call: its ``claim_id`` makes a retry answer the execution the first attempt took."""
        wait = max(0, min(30, int(wait_seconds)))
        return self._json(
            "POST",
            "agent/executions/claim",
            json={"wait_seconds": wait, "claim_id": f"sdk-{uuid.uuid4()}"},
            timeout=self.timeout + wait,
        )

    def claim_task(self) -> dict | None:
        """Claim the next ready task that this agent's capabilities fit; None when there is none.
        Its ``claim_id`` makes a retry answer the task the first attempt took."""
        return self._json("POST", "agent/tasks/claim", json={"claim_id": f"sdk-{uuid.uuid4()}"})

    def report_execution(self, **fields: Any) -> dict:
        """Report work (``POST /executions/``): ``trigger`` defaults to ``autonomous`` on the server.
        Fields follow the ledger (``status``, ``model``, ``model_provider``, ``input_tokens``, ...,
        ``logs`` on a terminal report). An ``external_id`` is added when missing, so a retry can
        never record the work twice."""
        fields.setdefault("external_id", f"sdk-{uuid.uuid4()}")
        return self._json("POST", "executions/", json=fields)

    def report_batch(self, executions: list[dict]) -> dict:
        """Report up to 1000 executions at once (``207`` with a result per item, in order)."""
        items = [dict(item) for item in executions]
        for item in items:
            item.setdefault("external_id", f"sdk-{uuid.uuid4()}")
        return self._json("POST", "executions/batch", json={"executions": items})

    def update_execution(self, execution_id: int, **fields: Any) -> dict:
        """Move a non-terminal execution on (status, usage, output, error). Once terminal it is
        immutable: :class:`~mission_control_sdk.errors.Immutable`. (After a lost response the
        retry may meet that error although the first attempt landed.)"""
        return self._json("PATCH", f"executions/{execution_id}/", json=fields)

    def append_logs(self, execution_id: int, entries: list[dict]) -> list[dict] | None:
        """Append structured log entries: ``{"ts", "level", "kind", "message", "data"}``. Each gets
        a ``client_id`` when it has none, so a retried append never adds an entry twice."""
        items = [dict(entry) for entry in entries]
        for item in items:
            item.setdefault("client_id", f"sdk-{uuid.uuid4()}")
        return self._json("POST", f"executions/{execution_id}/logs", json=items)

    def update_task(self, task_id: int, **fields: Any) -> dict:
        """Update a task this agent holds (e.g. ``status="done"``)."""
        return self._json("PATCH", f"tasks/{task_id}/", json=fields)


def _json_or_none(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
