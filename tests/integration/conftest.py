"""Fixtures for tests against real runtimes: sockets from .ci/setup-runtimes.sh, shared tmp dirs.

Integration tests never skip: an unreachable runtime fails the test with a hint to run
``.ci/setup-runtimes.sh``, which starts dockerd and the rootless Podman service (user
``flwdrun``) and writes their sockets to ``/run/flwd-ci.env``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

pytest.register_assert_rewrite("tests.integration.secure_facts")

from flwd.adapters._runtime_common import check_reachable
from flwd.domain.errors import RuntimeUnavailableError

CI_ENV_FILE = Path("/run/flwd-ci.env")
SHARED_TMP_ROOT = Path("/var/tmp/flwd-it")
DOCKER_TEST_IMAGE = "flwd-test:latest"
PODMAN_TEST_IMAGE = "localhost/flwd-test:latest"
SETUP_HINT = (
    "run `sudo .ci/setup-runtimes.sh` (starts dockerd and the rootless Podman service, "
    f"builds the test image, writes {CI_ENV_FILE})"
)


def ci_env(name: str) -> str | None:
    """*name* from the environment, else from /run/flwd-ci.env (KEY=VALUE lines)."""
    value = os.environ.get(name)
    if value:
        return value
    try:
        text = CI_ENV_FILE.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, found = line.strip().partition("=")
        if sep and key == name:
            return found.strip().strip("'\"") or None
    return None


def _reachable_socket(variable: str, runtime: str) -> str:
    url = ci_env(variable)
    if not url:
        pytest.fail(f"{variable} is not set and not in {CI_ENV_FILE}; {SETUP_HINT}")
    try:
        check_reachable(url, runtime)
    except RuntimeUnavailableError as exc:
        pytest.fail(f"{exc.detail} ({variable}); {SETUP_HINT}")
    return url


@pytest.fixture(scope="session")
def docker_socket() -> str:
    """``unix:///var/run/docker.sock`` (or $FLWD_TEST_DOCKER_SOCKET), known to answer."""
    return _reachable_socket("FLWD_TEST_DOCKER_SOCKET", "docker")


@pytest.fixture(scope="session")
def podman_socket() -> str:
    """The rootless Podman API socket of user flwdrun (``FLWD_TEST_PODMAN_SOCKET``)."""
    return _reachable_socket("FLWD_TEST_PODMAN_SOCKET", "podman")


@pytest.fixture
def test_image(request: pytest.FixtureRequest) -> str:
    """The offline busybox test image, named as the runtime of the test's marker knows it."""
    if request.node.get_closest_marker("docker"):
        return DOCKER_TEST_IMAGE
    if request.node.get_closest_marker("podman"):
        return PODMAN_TEST_IMAGE
    pytest.fail("test_image needs the test to be marked @pytest.mark.docker or .podman")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A fresh 0755 directory under /var/tmp/flwd-it that rootless runtimes can traverse.

    pytest's tmp_path lives under a 0700 directory the rootless user cannot enter.
    """
    SHARED_TMP_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    SHARED_TMP_ROOT.chmod(0o755)
    path = Path(tempfile.mkdtemp(prefix="t-", dir=SHARED_TMP_ROOT))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# the local OCI registry and the Podman service that trusts it (session-wide, see oci_registry)
from tests.integration.oci_registry import local_registry, registry_podman  # noqa: E402,F401

# A private PostgreSQL cluster (session) and an empty database per test: pg_support.py.
from tests.integration.pg_support import pg_cluster, pg_url  # noqa: E402,F401

# Worker hosts as network namespaces, with PostgreSQL and Redis on their bridge: netns_hosts.py.
from tests.integration.netns_hosts import bridge_redis, host_lab, hosts  # noqa: E402,F401

# A private Redis (session) for cluster mode's queue, emptied after each test: redis_support.py.
from tests.integration.redis_support import redis_server, redis_url  # noqa: E402,F401

# A private RabbitMQ node (session) and a fresh virtual host per test, and broker_url (either
# broker's, by indirect parametrization): rabbit_support.py.
from tests.integration.rabbit_support import broker_url, rabbit_node, rabbit_url  # noqa: E402,F401
