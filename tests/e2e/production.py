"""A Mission Control server with production settings (DEBUG=0), as a real process, seeded with work.

``manage.py serve`` for plain HTTP (it collects the static files itself), or daphne with a TLS
endpoint and a throwaway certificate for HTTPS at daphne itself. Both the process tests
(tests/e2e/test_production.py) and the browser tests (tests/browser/test_production.py) use it.
"""

import datetime
import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from console.pages import PAGES

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-browser-123"  # the seed's (tests/browser/seed.py)


@dataclass
class ProductionServer:
    url: str
    env: dict
    process: subprocess.Popen
    log: Path
    headers: dict = field(default_factory=dict)  # what a proxy in front would add
    seed: dict = field(default_factory=dict)

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.seed['owner_token']}", **self.headers},
            timeout=30,
            verify=False,
        )

    def agent_api(self) -> httpx.Client:
        return self.api(self.seed["agent_key"])

    def page_paths(self) -> list[str]:
        """Every console page, one of each detail page, the admin and the API docs."""
        business = self.seed["business"]
        paths = [p.url(business) if p.per_business else p.url() for p in PAGES]
        return [
            *paths,
            f"/agents/{self.seed['agent_id']}",
            f"/global/executions/{self.seed['failed_execution']}",
            "/admin/login/",
            "/api/docs/",
        ]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def production_env(tmp: Path, port: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DB_NAME"}}
    env.update(
        DEBUG="0",
        MC_TESTING="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        MC_VAR_DIR=str(tmp),
        SQLITE_PATH=str(tmp / "production.sqlite3"),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        **extra,
    )
    return env


def _run(cmd: list[str], env: dict) -> str:
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def self_signed_certificate(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp / "key.pem", tmp / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def start_production_server(
    tmp: Path, port: int, *, tls: bool = False, headers: dict | None = None, **extra: str
) -> ProductionServer:
    """Migrate, seed, start and populate (through the API, as agents and operators do)."""
    env = production_env(tmp, port, **extra)
    _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
    seed = json.loads(_run([sys.executable, "-m", "tests.browser.seed"], env).strip().splitlines()[-1])
    log = tmp / "server.log"
    if tls:
        _run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env)
        key, cert = self_signed_certificate(tmp)
        env["CELERY_TASK_ALWAYS_EAGER"] = "1"  # daphne alone: no worker, tasks run inline
        cmd = [
            sys.executable,
            "-m",
            "daphne",
            "-e",
            f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}",
            "mission_control.asgi:application",
        ]
        url = f"https://127.0.0.1:{port}"
    else:
        cmd = [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "2"]
        url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    server = ProductionServer(url=url, env=env, process=process, log=log, headers=headers or {}, seed=seed)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            # The health check is exempt from the HTTPS redirect: load balancers probe it plainly.
            if httpx.get(f"{url}/api/v1/health", timeout=2, verify=False).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError("the server exited:\n" + log.read_text())
        time.sleep(0.3)
    else:
        process.kill()
        raise AssertionError("the server did not become healthy:\n" + log.read_text())
    from tests.browser.conftest import populate

    populate(server)
    return server
