"""Add-on images for tests of SPEC section 10, built offline and pushed to the local registry.

An add-on image is the busybox test image (``flwd-test:latest`` in Docker) plus a manifest at
``/flwd-addon/manifest.yaml`` (or ``/addon/manifest.yaml``, or none at all) and the scripts its
jobs run. It is built with ``docker build`` and pushed with ``docker push`` (Docker treats
``127.0.0.1:PORT`` as an insecure registry by itself); Docker keeps no local name for it, so a
runtime under test has to pull it like any add-on. Shared by the add-on, sources and signature
tests: ``push_addon(local_registry, "hello")`` gives a ``PushedAddon`` with its tag ref, its
digest as the registry resolved it, and the digest-pinned ref.

The default add-on, ``hello-tools``, has one job ``hello`` (argument ``name``, required) whose
command ``["/bin/sh", "/opt/hello/hello.sh"]`` prints ``Hello NAME``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import textwrap
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from tests.integration.e2e_support import Runtime
from tests.integration.oci_registry import BASE_IMAGE, LocalRegistry, docker

MANIFEST_PATH = "/flwd-addon/manifest.yaml"
LEGACY_MANIFEST_PATH = "/addon/manifest.yaml"
HELLO_SCRIPT_PATH = "/opt/hello/hello.sh"
HELLO_SCRIPT = '#!/bin/sh\necho "Hello ${ARG_NAME}"\n'

HELLO_MANIFEST = """\
apiVersion: flwd.addon/v1
kind: AddOn
metadata: {{name: hello-tools, version: {version}, description: Greets people}}
jobs:
  - id: hello
    name: Hello
    description: Prints Hello NAME
    command: ["/bin/sh", "/opt/hello/hello.sh"]
    argspec:
      args:
        - {{name: name, type: string, required: true, description: Who to greet}}
    timeout: 1m
"""

# two broken jobs (no command; an unknown argument type) beside the good one
MIXED_MANIFEST = """\
apiVersion: flwd.addon/v1
kind: AddOn
metadata: {{name: mixed-tools, version: {version}}}
jobs:
  - id: hello
    command: ["/bin/sh", "/opt/hello/hello.sh"]
    argspec: {{args: [{{name: name, type: string, required: true}}]}}
  - id: no-command
    description: has no command
  - id: bad-type
    command: ["/bin/true"]
    argspec: {{args: [{{name: n, type: colour}}]}}
"""

_MANIFEST_MEDIA_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class PushedAddon:
    """An add-on image in the local registry."""

    host: str  # 127.0.0.1:PORT
    repository: str  # flwd-it/<name>-<random>
    tag: str
    digest: str  # sha256:..., as the registry resolves the tag

    @property
    def ref(self) -> str:
        """``HOST/REPOSITORY:TAG``, what a user adds as a source."""
        return f"{self.host}/{self.repository}:{self.tag}"

    @property
    def name(self) -> str:
        """``HOST/REPOSITORY``, the repository without tag or digest."""
        return f"{self.host}/{self.repository}"

    @property
    def pinned(self) -> str:
        """``HOST/REPOSITORY@sha256:...``, the image an add-on job runs."""
        return f"{self.name}@{self.digest}"


def hello_manifest(version: str = "1.0.0") -> str:
    return HELLO_MANIFEST.format(version=version)


def mixed_manifest(version: str = "1.0.0") -> str:
    return MIXED_MANIFEST.format(version=version)


def _dockerfile(files: Mapping[str, str], steps: Sequence[str]) -> str:
    # A label of its own first: no layer of this build is another build's cache, so removing
    # this image (and its untagged parents) never pulls a layer from under a concurrent build
    # (Docker's legacy builder: "failed to set parent ...: unknown parent image ID").
    lines = [f"FROM {BASE_IMAGE}", f"LABEL flwd.test-build={uuid.uuid4().hex}"]
    lines += [f"COPY f{i} {target}" for i, target in enumerate(files)]
    return "\n".join([*lines, *steps]) + "\n"


def build_and_push(registry: LocalRegistry, repository: str, tag: str,
                   files: Mapping[str, str], steps: Sequence[str] = ()) -> PushedAddon:
    """Build the busybox test image plus *files* (absolute path in the image -> text, all
    mode 0755), then the Dockerfile *steps* (``RUN ...``, ``VOLUME ...``), as
    ``HOST/repository:tag``, push it, drop Docker's local name; returns it."""
    ref = f"{registry.host}/{repository}:{tag}"
    context = Path(tempfile.mkdtemp(prefix="addon-ctx-", dir=registry.base))
    try:
        for i, text in enumerate(files.values()):
            (context / f"f{i}").write_text(text)
            (context / f"f{i}").chmod(0o755)
        (context / "Dockerfile").write_text(_dockerfile(files, steps))
        docker("build", "-q", "-t", ref, str(context))
        try:
            pushed = docker("push", ref)
        finally:
            docker("rmi", ref)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    match = _PUSHED_DIGEST.search(pushed)
    digest = match.group(1) if match else registry_digest(registry, repository, tag)
    return PushedAddon(host=registry.host, repository=repository, tag=tag, digest=digest)


def push_addon(registry: LocalRegistry, name: str, *, manifest: str | None = None,
               manifest_path: str = MANIFEST_PATH, tag: str = "1",
               repository: str | None = None, version: str = "1.0.0",
               extra_files: Mapping[str, str] | None = None,
               steps: Sequence[str] = ()) -> PushedAddon:
    """Push an add-on: by default ``hello-tools`` *version* at ``/flwd-addon/manifest.yaml``.

    *manifest* replaces the manifest text (``""`` pushes an image without any manifest);
    *repository* pushes into an existing repository (e.g. to move *tag*); *steps* are
    Dockerfile lines run after the files are copied in."""
    text = hello_manifest(version) if manifest is None else textwrap.dedent(manifest)
    files = {HELLO_SCRIPT_PATH: HELLO_SCRIPT, **(extra_files or {})}
    if text:
        files[manifest_path] = text
    return build_and_push(registry, repository or registry.repository(name), tag, files, steps)


def registry_digest(registry: LocalRegistry, repository: str, tag: str) -> str:
    """The digest the registry serves for ``repository:tag`` (its ``Docker-Content-Digest``)."""
    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/manifests/{tag}",
                                     method="HEAD", headers={"Accept": _MANIFEST_MEDIA_TYPES})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def registry_manifest(registry: LocalRegistry, repository: str, reference: str) -> dict[str, object]:
    """The image manifest the registry serves for a tag or digest, as JSON."""
    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/manifests/{reference}",
                                     headers={"Accept": _MANIFEST_MEDIA_TYPES})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def volume_step(marker: str, path: str = "/data") -> list[str]:
    """Dockerfile steps declaring ``VOLUME path`` with a file *marker* in it: a volume made
    from the image holds a copy of that file, so ``volumes_holding`` finds exactly it."""
    return [f"RUN mkdir -p {path} && echo image > {path}/{marker}", f"VOLUME {path}"]


def volumes_holding(rt: Runtime, marker: str) -> list[str]:
    """The runtime's volumes holding a file *marker* (from ``volume_step``), read from the
    volume store's directory: other sessions' volumes come and go meanwhile."""
    if rt.name == "podman":
        done = rt.cli("info", "--format", "{{.Store.VolumePath}}")
        root = Path(done.stdout.strip())
    else:
        done = rt.cli("info", "--format", "{{.DockerRootDir}}")
        root = Path(done.stdout.strip()) / "volumes"
    assert done.returncode == 0, done.stderr
    return sorted(str(p) for p in root.glob(f"*/_data/{marker}"))


def dangling_volumes(rt: Runtime) -> set[str]:
    """The runtime's volumes no container uses (a never-started container's volume is still
    empty, so ``volumes_holding`` cannot see it)."""
    done = rt.cli("volume", "ls", "--filter", "dangling=true", "--format", "{{.Name}}")
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())
