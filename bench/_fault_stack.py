"""The processes a fault campaign runs, kills and restarts: a private redis-server and the Procfile's
web (daphne), worker and beat, each its own process group so ``kill -9`` takes its children too."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.http_servers import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Proc:
    """One long-running process, restartable under the same name, logging to ``logs/<name>.log``."""

    name: str
    argv: list[str]
    env: dict
    logs: Path
    popen: subprocess.Popen | None = None
    starts: int = 0
    kills: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"{self.name}.log").open("a")
        log.write(f"\n===== start #{self.starts} at {time.strftime('%H:%M:%S')} =====\n")
        log.flush()
        self.popen = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group: no shutdown, no ack, nothing flushed."""
        if self.alive():
            self.kills.append(time.monotonic())
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


class Stack:
    """redis + web + worker + beat for one campaign database."""

    def __init__(self, *, database_url: str, logs: Path, env_extra: dict):
        self.logs = logs
        self.redis_port = free_port()
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"TEST_DB_NAME", "PYTEST_CURRENT_TEST"}},
            "DATABASE_URL": database_url,
            "REDIS_URL": self.redis_url,
            "DEBUG": "1",
            "MC_TESTING": "0",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "MC_VAR_DIR": str(logs),
            "PORT": str(self.web_port),
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            **env_extra,
        }
        py = sys.executable
        self.redis = Proc(
            "redis",
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(logs)],
            self.env,
            logs,
        )  # fmt: skip
        self.web = Proc(
            "web",
            [
                py,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.web_port),
                "mission_control.asgi:application",
            ],
            self.env,
            logs,
        )
        self.worker = Proc(
            "worker",
            [py, "-m", "celery", "-A", "mission_control", "worker", "-l", "warning", "--concurrency", "2",
             "-n", f"faults-{self.web_port}@%h", "--without-mingle", "--without-gossip"],
            self.env,
            logs,
        )  # fmt: skip
        self.beat = Proc(
            "beat",
            [py, "-m", "celery", "-A", "mission_control", "beat", "-l", "warning",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
            self.env,
            logs,
        )  # fmt: skip

    @property
    def processes(self) -> list[Proc]:
        return [self.web, self.worker, self.beat, self.redis]

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def start_redis(self) -> None:
        self.redis.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the private redis-server did not start (see redis.log)")

    def wait_healthy(self, timeout: float = 90) -> float:
        """Seconds until /api/v1/health answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=3).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"web did not become healthy within {timeout:.0f} s (see web.log)")

    def stop_all(self) -> None:
        for proc in self.processes:
            proc.stop()
