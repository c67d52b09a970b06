"""Mission Control agent SDK: report presence, obey commands, claim and report work.

No Django here: only ``httpx``. The paths follow the API contract (``/api/v1/...``)::

    from mission_control_sdk import Client, Heartbeat, EmergencyStop

    client = Client("http://127.0.0.1:8000", "mca_...")        # the agent's key
    hb = Heartbeat(client, version="1.0.0", status=lambda: "active" if busy else "idle",
                   on_stop=lambda cmd: pause(), on_start=lambda cmd: resume(),
                   on_abort=lambda cmd: cancel(cmd["args"]["execution"])).start()

    while True:
        if not hb.should_work:          # stopped, emergency stop or budget exhausted
            time.sleep(1); continue
        work = client.claim_execution(wait_seconds=10)   # pull agents; None when idle
        if work:
            client.append_logs(work["id"], [{"kind": "prompt", "message": "..."}])
            client.update_execution(work["id"], status="success", model="gpt-4o",
                                    input_tokens=1200, output_tokens=300, output={"answer": "..."})

    # push agents: check a delivered execution's signature before trusting it
    verify_signature(signing_secret, body, headers.get(SIGNATURE_HEADER))

    # work the agent did on its own, reported in one call (idempotent: an external_id is added)
    client.report_execution(status="success", model="claude-sonnet-4", model_provider="anthropic",
                            input_tokens=900, output_tokens=250, logs=[...])

Requests are retried with exponential backoff and jitter on connection errors, 429 and 503
(honouring ``Retry-After``), and on other 5xx when repeating them is safe. Errors are typed
(:mod:`mission_control_sdk.errors`): ``BudgetExceeded`` (402), ``EmergencyStop`` (423),
``RateLimited`` (429), ``Immutable`` (409), ``AuthenticationError`` (401), ...
"""

__version__ = "0.2.0"

from mission_control_sdk.client import Client
from mission_control_sdk.errors import (
    AuthenticationError,
    BudgetExceeded,
    Conflict,
    EmergencyStop,
    Immutable,
    MissionControlError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from mission_control_sdk.heartbeat import Heartbeat
from mission_control_sdk.signatures import SIGNATURE_HEADER, signature, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "AuthenticationError",
    "BudgetExceeded",
    "Client",
    "Conflict",
    "EmergencyStop",
    "Heartbeat",
    "Immutable",
    "MissionControlError",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "TransportError",
    "ValidationError",
    "__version__",
    "signature",
    "verify_signature",
]
