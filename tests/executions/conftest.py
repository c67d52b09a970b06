import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import agent_client


def report(client, **body):
    """An agent reports work: ``POST /api/v1/executions/``."""
    return client.post("/api/v1/executions/", body, format="json")


def finished(**extra) -> dict:
    """A typical terminal report body."""
    return {
        "status": "success",
        "model": "gpt-4o",
        "model_provider": "openai",
        "input_tokens": 1000,
        "output_tokens": 100,
        "started_at": "2025-06-01T10:00:00Z",
        "finished_at": "2025-06-01T10:00:02Z",
        **extra,
    }


class PushAgentServer:
    """A push agent on 127.0.0.1 (a free port): records each POST, answers ``status`` after
    ``delay`` seconds."""

    def __init__(self, status: int = 202, delay: float = 0.0):
        self.status = status
        self.delay = delay
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(
                    {"headers": dict(self.headers), "body": body, "json": json.loads(body)}
                )
                if server.delay:
                    time.sleep(server.delay)
                self.send_response(server.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/work"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def push_server():
    servers = []

    def start(**kwargs) -> PushAgentServer:
        server = PushAgentServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def pull_agent(make_agent):
    return make_agent("puller", mode="pull")


@pytest.fixture
def pull_api(pull_agent):
    return agent_client(pull_agent)
