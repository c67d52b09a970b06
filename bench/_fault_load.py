"""The load a fault campaign keeps on the stack: a push agent (an HTTP server that takes signed
deliveries and reports each one done), operators starting work every few seconds, and the
simulated fleet (``manage.py simulate`` on the SDK) in its own process."""

import json
import random
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

RETRYABLE = {429, 500, 502, 503, 504}
# Long enough for a lost delivery to be sent again before the agent reports the work.
SLOW_S = 90


def call_with_retries(
    method: str, url: str, *, token: str, body: dict, give_up_s: float, codes: Counter
) -> int:
    """One logical call, repeated on transport errors and retryable statuses (as the SDK does);
    every answer's status is counted. Returns the last status (0: never answered)."""
    deadline = time.monotonic() + give_up_s
    delay = 0.5
    status = 0
    while True:
        try:
            response = httpx.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15
            )
            status = response.status_code
            codes[status] += 1
            if status not in RETRYABLE:
                return status
            wait = float(response.headers.get("Retry-After") or delay)
        except httpx.HTTPError:
            codes["transport_error"] += 1
            wait = delay
        if time.monotonic() + wait > deadline:
            return status
        time.sleep(wait + random.uniform(0, 0.3))
        delay = min(delay * 2, 8)


class PushAgent:
    """Takes deliveries on a free port, answers 202, then reports the work done a moment later."""

    def __init__(self, *, base_url: str, key: str, stop: threading.Event):
        self.base_url, self.key, self.stop = base_url, key, stop
        self.deliveries: dict[int, list[dict]] = defaultdict(list)
        self.codes: Counter = Counter()
        self.lock = threading.Lock()
        self.in_flight = threading.Event()  # set while a delivery waits for its answer
        self.current = 0  # the execution of that delivery
        self.slow: set[int] = set()  # executions reported only after SLOW_S
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                agent.received(body)
                # A slow answer keeps deliveries in flight, where a killed worker loses them.
                agent.current = body["execution"]["id"]
                agent.in_flight.set()
                time.sleep(random.uniform(0.5, 2.5))
                agent.in_flight.clear()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/work"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def received(self, body: dict) -> None:
        execution_id = body["execution"]["id"]
        with self.lock:
            known = bool(self.deliveries[execution_id])
            self.deliveries[execution_id].append(
                {
                    "attempt": body.get("delivery_attempt"),
                    "redelivery": body.get("redelivery"),
                    "at": time.time(),
                }
            )
        if not known:  # a redelivery of work already in hand is not started again
            threading.Thread(target=self.work, args=(execution_id,), daemon=True).start()

    def work(self, execution_id: int) -> None:
        time.sleep(random.uniform(0.2, 1.5))
        if execution_id in self.slow:
            time.sleep(SLOW_S)
        cost = f"0.{random.randint(1000, 30000):06d}"
        call_with_retries(
            "PATCH",
            f"{self.base_url}/api/v1/executions/{execution_id}",
            token=self.key,
            body={"status": "success", "cost_usd": cost, "input_tokens": 120, "output_tokens": 30},
            give_up_s=120,
            codes=self.codes,
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Operators:
    """Starts work on the given agents every ``every`` seconds until stopped (manual runs)."""

    def __init__(
        self, *, base_url: str, token: str, agent_ids: list[int], stop: threading.Event, every: float = 2
    ):
        self.base_url, self.token, self.agent_ids, self.stop, self.every = (
            base_url,
            token,
            agent_ids,
            stop,
            every,
        )
        self.codes: Counter = Counter()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.stop.wait(self.every):
            n += 1
            self.start_work(self.agent_ids[n % len(self.agent_ids)], n)

    def start_work(self, agent_id: int, n: int = 0) -> int:
        return call_with_retries(
            "POST",
            f"{self.base_url}/api/v1/agents/{agent_id}/run",
            token=self.token,
            body={"input": {"n": n}},
            give_up_s=30,
            codes=self.codes,
        )
