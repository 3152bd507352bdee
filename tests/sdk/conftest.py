"""Starts the real switchyard binary for the Python `openai` and `anthropic` SDK tests.

The binary comes from $SWITCHYARD_BIN (a relative path is taken relative to the repository
root), default `target/release/switchyard`; build it first with `cargo build --release`.
It serves tests/sdk/config.yaml on a free loopback port for the whole session and must exit 0
on SIGTERM at the end; a second gateway serves tests/sdk/config-translate.yaml, whose
`anthropic/` and `openai/` deployments point at the loopback mock of tests/sdk/upstream.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "config.yaml"
TRANSLATE_CONFIG = Path(__file__).resolve().parent / "config-translate.yaml"

READY_DEADLINE_S = 30.0
STOP_DEADLINE_S = 15.0
START_ATTEMPTS = 3  # a free port can be taken by someone else between probe and bind


def _binary() -> Path:
    raw = os.environ.get("SWITCHYARD_BIN", "target/release/switchyard")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.exit(
            f"switchyard binary not found or not executable at {path} "
            "(set SWITCHYARD_BIN or run `cargo build --release`)",
            returncode=1,
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(proc: subprocess.Popen, base_url: str, log_path: Path) -> bool:
    """Polls /health/readiness until 200 with status "healthy". False if the process exited."""
    deadline = time.monotonic() + READY_DEADLINE_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{base_url}/health/readiness", timeout=2) as resp:
                body = json.loads(resp.read())
                if resp.status == 200 and body.get("status") == "healthy":
                    return True
                last = f"{resp.status} {body}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as e:
            last = repr(e)
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.fail(
        f"switchyard not ready within {READY_DEADLINE_S}s at {base_url} (last: {last})\n"
        f"--- log ---\n{_log_tail(log_path)}"
    )


@contextlib.contextmanager
def _gateway(config: Path, extra_env: dict[str, str] | None = None):
    """Runs the binary on `config` on a free loopback port; yields its base URL (no /v1)."""
    binary = _binary()
    env = dict(os.environ)
    # Command-line flags win over these anyway; drop them so nothing outside leaks in.
    for var in ("SWITCHYARD_CONFIG", "SWITCHYARD_HOST", "SWITCHYARD_PORT"):
        env.pop(var, None)
    env.setdefault("RUST_LOG", "info")
    env["NO_COLOR"] = "1"
    env.update(extra_env or {})

    log_dir = Path(tempfile.mkdtemp(prefix="switchyard-sdk-"))
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = log_dir / f"gateway-{attempt}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )
        if _wait_ready(proc, base_url, log_path):
            break
        log.close()
        if attempt == START_ATTEMPTS:
            pytest.fail(
                f"switchyard exited with {proc.returncode} before it was ready "
                f"({START_ATTEMPTS} attempts)\n--- log ---\n{_log_tail(log_path)}"
            )

    try:
        yield base_url
    finally:
        exited_early = proc.poll()
        if exited_early is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                log.close()
                pytest.fail(
                    f"switchyard did not exit within {STOP_DEADLINE_S}s of SIGTERM\n"
                    f"--- log ---\n{_log_tail(log_path)}"
                )
        else:
            code = exited_early
        log.close()
        assert exited_early is None, (
            f"switchyard died during the tests (exit {exited_early})\n--- log ---\n{_log_tail(log_path)}"
        )
        assert code == 0, f"switchyard exited {code} on SIGTERM\n--- log ---\n{_log_tail(log_path)}"


@pytest.fixture(scope="session")
def gateway_url():
    """Base URL (no trailing slash, no /v1) of a running gateway serving tests/sdk/config.yaml."""
    with _gateway(CONFIG) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def upstream():
    """The loopback mock upstream speaking Anthropic and OpenAI (tests/sdk/upstream.py)."""
    from upstream import Upstream

    mock = Upstream()
    try:
        yield mock
    finally:
        mock.close()


@pytest.fixture(scope="session")
def translating_gateway_url(upstream):
    """A gateway serving tests/sdk/config-translate.yaml: an `anthropic/` and an `openai/`
    deployment, both pointed at the mock upstream."""
    env = {
        "SDK_UPSTREAM_BASE": upstream.base,
        "SDK_UPSTREAM_OPENAI_BASE": f"{upstream.base}/v1",
    }
    with _gateway(TRANSLATE_CONFIG, env) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def redis_gateway_urls():
    """Two gateways serving tests/sdk/config.yaml that share the Redis at
    $SWITCHYARD_TEST_REDIS_URL (as two replicas behind a load balancer). Skipped, visibly, when
    the variable is unset."""
    url = os.environ.get("SWITCHYARD_TEST_REDIS_URL")
    if not url:
        pytest.skip("SWITCHYARD_TEST_REDIS_URL is not set: no Redis to share between two gateways")
    env = {"REDIS_URL": url}
    with _gateway(CONFIG, env) as first, _gateway(CONFIG, env) as second:
        yield first, second


ENDPOINTS_CONFIG = Path(__file__).resolve().parent / "config-endpoints.yaml"


@pytest.fixture(scope="session")
def endpoints_gateway_url():
    """A gateway serving tests/sdk/config-endpoints.yaml: one mock group per endpoint."""
    with _gateway(ENDPOINTS_CONFIG) as base_url:
        yield base_url
