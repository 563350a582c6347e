"""A real OCI registry on loopback for pull tests, and a rootless Podman service that trusts it.

``LocalRegistry`` runs Debian's ``docker-registry`` (CNCF distribution 2.8) on a free
127.0.0.1 port with its storage in a temporary directory; its access log says which
repositories the runtimes asked for. Test images are built offline from the busybox test
image in Docker and pushed with ``docker push`` (Docker treats 127.0.0.1:PORT and
localhost:PORT as insecure by itself).

Podman needs ``insecure = true`` for the registry in a registries.conf, and the running
rootless Podman service caches registries.conf for its whole life (checked with Podman 4.3:
a drop-in added under ``~/.config/containers/registries.conf.d`` is read by a new ``podman``
process but not by the running service). So ``PrivatePodman`` starts a second rootless
service for the same user (same image store) on its own socket, with
``CONTAINERS_REGISTRIES_CONF`` naming a registries.conf of its own: nothing shared is edited,
and the shared service is never restarted.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
BASE_IMAGE = "flwd-test:latest"  # the busybox test image as Docker names it
REPOSITORY_PREFIX = "flwd-it"  # every repository the tests push lives under it
START_SECONDS = 30.0
_REQUEST = re.compile(r'"(GET|HEAD) (/v2/\S*) HTTP/')

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(ready: object, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log.read_text()[-2000:]}")
        if callable(ready) and ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer within {START_SECONDS}s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class LocalRegistry:
    """``docker-registry serve`` on 127.0.0.1:<free port>; stop() ends it and drops its storage."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="flwd-registry-"))
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = self.base / "registry.log"
        config = self.base / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(root=self.base / "data", port=self.port))
        with self.log.open("wb") as log:
            self._process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_until(self._answers, "docker-registry", self._process, self.log)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def repository(self, name: str) -> str:
        """A fresh repository path under the tests' prefix: ``flwd-it/<name>-<random>``."""
        return f"{REPOSITORY_PREFIX}/{name}-{uuid.uuid4().hex[:10]}"

    def push(self, repository: str, tag: str, version: str) -> str:
        """Push the busybox test image plus ``/flwd-version`` (holding *version*) as
        ``repository:tag``; Docker keeps no local name for it. Returns ``HOST/repository:tag``."""
        ref = f"{self.host}/{repository}:{tag}"
        context = Path(tempfile.mkdtemp(prefix="ctx-", dir=self.base))
        (context / "flwd-version").write_text(f"{version}\n")
        (context / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY flwd-version /flwd-version\n")
        docker("build", "-q", "-t", ref, str(context))
        try:
            docker("push", ref)
        finally:
            docker("rmi", ref)
            shutil.rmtree(context, ignore_errors=True)
        return ref

    def mark(self) -> int:
        """A position in the access log: ``requests(since=mark)`` sees only what came after."""
        return len(self._lines())

    def requests(self, repository: str, since: int = 0) -> list[str]:
        """``METHOD /v2/<repository>/...`` for every request about *repository* after *since*."""
        found = []
        for line in self._lines()[since:]:
            match = _REQUEST.search(line)
            if match and match.group(2).startswith(f"/v2/{repository}/"):
                found.append(f"{match.group(1)} {match.group(2)}")
        return found

    def _lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def stop(self) -> None:
        _stop(self._process)
        shutil.rmtree(self.base, ignore_errors=True)


class PrivatePodman:
    """A rootless ``podman system service`` of *user* on its own socket, trusting *insecure*
    registries over plain HTTP; it shares the user's image store with the shared service."""

    def __init__(self, user: str, insecure: list[str]) -> None:
        account = pwd.getpwnam(user)
        self.base = Path(tempfile.mkdtemp(prefix="flwd-pp-", dir="/var/tmp"))
        os.chown(self.base, account.pw_uid, account.pw_gid)
        self.base.chmod(0o755)
        conf = self.base / "registries.conf"
        conf.write_text("".join(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n\n'
                                for host in insecure))
        conf.chmod(0o644)
        self.url = f"unix://{self.base}/podman.sock"
        log = self.base / "service.log"
        env = {"HOME": account.pw_dir, "XDG_RUNTIME_DIR": f"/run/user/{account.pw_uid}",
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CONTAINERS_REGISTRIES_CONF": str(conf)}
        with log.open("wb") as out:
            self._process = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.url], user=account.pw_uid,
                group=account.pw_gid, extra_groups=[], env=env, cwd=self.base, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_until(self._answers, "private podman service", self._process, log)

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(self.base / "podman.sock"))
            except OSError:
                return False
        return True

    def stop(self) -> None:
        _stop(self._process)
        shutil.rmtree(self.base, ignore_errors=True)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _leftovers(base: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """Names and ids to ``rmi``: tags under *prefixes*, then images a moved tag left without
    one (Docker keeps their repository name; Podman only remembers it in ``.History``)."""
    rows = [line.split("|") for line in _run([*base, "images", "--format",
                                             "{{.Repository}}|{{.Tag}}|{{.ID}}"]).stdout.splitlines()]
    tagged = [f"{repo}:{tag}" for repo, tag, _ in rows if repo.startswith(prefixes) and tag != "<none>"]
    untagged = {image_id for repo, tag, image_id in rows if repo.startswith(prefixes) and tag == "<none>"}
    if base[0] == "podman":
        dangling = _run([*base, "images", "--filter", "dangling=true", "--format", "{{.ID}}|{{.History}}"])
        for line in dangling.stdout.splitlines():
            image_id, _, history = line.partition("|")
            if any(name.strip().startswith(prefixes) for name in history.split(",")):
                untagged.add(image_id)
    return [*tagged, *sorted(untagged)]


def remove_local_images(registry: LocalRegistry, podman_url: str) -> list[str]:
    """Drop every image the tests' pulls left under this registry's names (both spellings,
    tagged or left untagged by a moved tag), on both runtimes; only images named after this
    session's registry port, so nothing of anyone else's. Returns what could not be removed."""
    prefixes = (f"{registry.host}/", f"localhost:{registry.port}/")
    failed = []
    for base in (["docker"], ["podman", "--url", podman_url]):
        for name in _leftovers(base, prefixes):
            done = _run([*base, "rmi", name])
            if done.returncode != 0:
                failed.append(f"{base[0]} rmi {name}: {done.stderr.strip()}")
    return failed


@pytest.fixture(scope="session")
def local_registry() -> Iterator[LocalRegistry]:
    """A real registry on 127.0.0.1:<free port>; stopped, storage removed at the end."""
    if not Path(REGISTRY_BINARY).exists():
        pytest.fail(f"{REGISTRY_BINARY} is missing: run `sudo .ci/setup-runtimes.sh` "
                    "(installs Debian's docker-registry)")
    registry = LocalRegistry()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def registry_podman(local_registry: LocalRegistry) -> Iterator[str]:
    """The socket URL of a private rootless Podman service that trusts *local_registry*."""
    from tests.integration.conftest import ci_env

    service = PrivatePodman(ci_env("FLWD_TEST_PODMAN_USER") or "flwdrun",
                            [local_registry.host, local_registry.host.replace("127.0.0.1", "localhost")])
    yield service.url
    failed = remove_local_images(local_registry, service.url)
    service.stop()
    assert not failed, f"test images left behind: {failed}"
