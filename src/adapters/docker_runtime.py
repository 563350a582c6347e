"""The ContainerRuntime port on Docker Engine, through docker-py (lazily connected)."""

from __future__ import annotations

import math
import os
import re
import threading
from typing import Any, Callable, Iterator, Sequence

import docker
import docker.errors

from flwd.adapters._attach import AttachedStream
from flwd.adapters._runtime_common import (
    DEFAULT_DOCKER_SOCKET,
    PULL_POLICIES,
    check_reachable,
    managed_container,
    never_pull_error,
    split_lines,
    translate_api_error,
)
from flwd.adapters.docker_logs import merged, with_lost_tails
from flwd.adapters.docker_spec import create_kwargs
from flwd.domain.errors import OciError, RuntimeUnavailableError
from flwd.ports.runtime import (
    LABEL_RUN_ID,
    ContainerSpec,
    ManagedContainer,
    OutputLine,
    PullProgress,
    RuntimeInfo,
)

_REMAPPED_ROOT_DIR = re.compile(r"/(\d+)\.(\d+)/?$")


class DockerRuntime:
    """Runs job containers on a Docker daemon (rootful, userns-remapped or rootless).

    ``base_url`` is a Docker host URL (``unix:///var/run/docker.sock``, ``tcp://...``);
    None means ``DOCKER_HOST`` or the default socket. No I/O happens before first use.
    """

    def __init__(self, base_url: str | None = None, timeout: float = 30.0) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._info: RuntimeInfo | None = None

    @property
    def url(self) -> str:
        return self._base_url or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_SOCKET

    def _docker(self) -> docker.DockerClient:
        with self._lock:
            client = self._client
            if client is None:
                check_reachable(self.url, "docker")
                try:
                    client = docker.DockerClient(base_url=self.url, timeout=int(self._timeout))
                except docker.errors.DockerException as exc:
                    raise RuntimeUnavailableError(
                        f"docker is not usable at {self.url}: {exc}", runtime="docker", socket=self.url
                    ) from exc
                self._client = client
            return client

    def _api(self) -> docker.APIClient:
        return self._docker().api

    def client(self) -> docker.DockerClient:
        """The connected docker-py client, for adapters of other ports on the same daemon
        (add-on images); connecting raises ``RuntimeUnavailableError`` as every call does."""
        return self._docker()

    # --- the port ------------------------------------------------------------------

    def probe(self) -> RuntimeInfo:
        """Described once per adapter from one ``GET /info`` (it carries the version too);
        later probes only check that the socket still accepts connections."""
        check_reachable(self.url, "docker")
        if self._info is None:
            self._info = self._probe_info()
        return self._info

    def _probe_info(self) -> RuntimeInfo:
        try:
            info = self._api().info()
        except Exception as exc:
            raise translate_api_error(exc, "probe", socket=self.url) from exc
        options = [str(o) for o in info.get("SecurityOptions") or ()]
        userns = any("name=userns" in o for o in options)
        rootless = userns or any("name=rootless" in o for o in options)
        root_uid, root_gid = self._root_ids(info, userns=userns, rootless=rootless)
        enforces = bool(info.get("MemoryLimit", True)) and bool(info.get("PidsLimit", True))
        return RuntimeInfo(
            name="docker",
            version=str(info.get("ServerVersion", "unknown")),
            rootless=rootless,
            socket=self.url,
            enforces_limits=enforces,
            root_uid=root_uid,
            root_gid=root_gid,
            problems=tuple(str(w) for w in info.get("Warnings") or ()),
        )

    def ensure_image(
        self, image: str, policy: str, progress: Callable[[PullProgress], None]
    ) -> bool:
        if policy not in PULL_POLICIES:
            raise ValueError(f"unknown pull policy {policy!r}; expected one of {PULL_POLICIES}")
        present = self.has_image(image)
        if policy == "never" and not present:
            raise never_pull_error(image)
        if present and policy != "always":
            return False
        self._pull(image, progress)
        return True

    def create(self, spec: ContainerSpec) -> str:
        try:
            volumes = self._image_volumes(spec.image) if spec.read_only_rootfs else ()
            container = self._docker().containers.create(**create_kwargs(spec, volumes))
        except Exception as exc:
            raise translate_api_error(exc, "create", name=spec.name, image=spec.image) from exc
        return str(container.id)

    def _image_volumes(self, image: str) -> tuple[str, ...]:
        """The paths the image declares as VOLUME (see ``docker_spec.MASKED_VOLUME``)."""
        config = self._api().inspect_image(image).get("Config") or {}
        return tuple(config.get("Volumes") or ())

    def attach(self, container_id: str) -> AttachedStream:
        """docker-py's ``attach_socket``, made before the start as ``docker run`` does: the
        daemon joins the container's output before it answers."""
        try:
            raw = self._api().attach_socket(container_id,
                                            params={"stdout": 1, "stderr": 1, "stream": 1})
        except Exception as exc:
            raise translate_api_error(exc, "attach", container=container_id) from exc
        sock = raw._sock  # the hijacked connection under docker-py's SocketIO
        sock.settimeout(None)  # a quiet job is no timeout
        return AttachedStream(raw.read, sock, running=lambda: self._is_running(container_id),
                              recover=lambda: self.output(container_id), release=raw.close,
                              name=f"flwd-attach-{container_id[:12]}",
                              exit_grace=0.0)  # the daemon records the exit, then closes

    def _is_running(self, container_id: str) -> bool:
        try:
            state = self._api().inspect_container(container_id).get("State") or {}
        except docker.errors.NotFound:
            return False
        except Exception as exc:
            raise translate_api_error(exc, "inspect", container=container_id) from exc
        return bool(state.get("Running"))

    def start(self, container_id: str) -> None:
        try:
            self._api().start(container_id)
        except Exception as exc:
            raise translate_api_error(exc, "start", container=container_id) from exc

    def output(self, container_id: str) -> Iterator[OutputLine]:
        """Followed log streams (for a container this adapter did not attach to, or whose
        attach broke), completed after the exit from the log itself."""
        api = self._api()
        try:
            streams = {
                "stdout": api.logs(container_id, stdout=True, stderr=False, stream=True, follow=True),
                "stderr": api.logs(container_id, stdout=False, stderr=True, stream=True, follow=True),
            }
        except Exception as exc:
            raise translate_api_error(exc, "logs", container=container_id) from exc
        try:
            yield from split_lines(with_lost_tails(api, container_id, merged(streams)))
        finally:
            for stream in streams.values():
                stream.close()

    def wait(self, container_id: str) -> int:
        try:
            result = self._api().wait(container_id, timeout=None)
        except Exception as exc:
            raise translate_api_error(exc, "wait", container=container_id) from exc
        return int(result.get("StatusCode", -1))

    def stop(self, container_id: str, grace_seconds: float) -> None:
        self._quietly("stop", container_id,
                      lambda: self._api().stop(container_id, timeout=math.ceil(grace_seconds)))

    def kill(self, container_id: str) -> None:
        self._quietly("kill", container_id, lambda: self._api().kill(container_id))

    def remove(self, container_id: str) -> None:
        self._quietly("remove", container_id,
                      lambda: self._api().remove_container(container_id, force=True, v=True))

    def managed(self) -> Sequence[ManagedContainer]:
        try:
            rows = self._api().containers(all=True, filters={"label": LABEL_RUN_ID})
        except Exception as exc:
            raise translate_api_error(exc, "list") from exc
        found = (
            managed_container(row["Id"], (row.get("Names") or [""])[0], row.get("Labels"),
                              row.get("State") == "running")
            for row in rows
        )
        return [m for m in found if m is not None]

    def close(self) -> None:
        # No lock: close also runs from a finalizer (the container's resource generator,
        # garbage-collected) at any allocation, possibly while this thread, or one waiting for
        # the import lock this thread holds, is inside _docker() holding the lock: taking it
        # here deadlocked a test run until pytest-timeout broke it.
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- helpers -------------------------------------------------------------------

    def has_image(self, image: str) -> bool:
        """Whether *image* is in the daemon's image store (also for the add-on adapter)."""
        try:
            self._api().inspect_image(image)
        except docker.errors.ImageNotFound:
            return False
        except Exception as exc:
            raise translate_api_error(exc, "inspect image", image=image) from exc
        return True

    def _pull(self, image: str, progress: Callable[[PullProgress], None]) -> None:
        repository, tag = docker.utils.parse_repository_tag(image)
        try:
            for event in self._api().pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    raise OciError(f"pull failed: {event['error']}", image=image)
                detail = event.get("progressDetail") or {}
                progress(PullProgress(
                    image=image,
                    status=" ".join(str(event[k]) for k in ("id", "status") if event.get(k)),
                    current=detail.get("current"), total=detail.get("total"),
                ))
        except Exception as exc:
            raise translate_api_error(exc, "pull", image=image) from exc

    def _quietly(self, action: str, container_id: str, call: Callable[[], object]) -> None:
        """Run a stop/kill/remove, treating 'already gone / not running' as success."""
        try:
            call()
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code in (304, 409):  # not running / removal already in progress
                return
            raise translate_api_error(exc, action, container=container_id) from exc
        except Exception as exc:
            raise translate_api_error(exc, action, container=container_id) from exc

    def _root_ids(self, info: dict[str, Any], *, userns: bool, rootless: bool) -> tuple[int, int]:
        if userns:
            # userns-remap keeps its data under <root>/<uid>.<gid>
            match = _REMAPPED_ROOT_DIR.search(str(info.get("DockerRootDir", "")))
            if match:
                return int(match.group(1)), int(match.group(2))
            return _subid("/etc/subuid", "dockremap"), _subid("/etc/subgid", "dockremap")
        if rootless and self.url.startswith("unix://"):
            try:  # rootless dockerd: container root is the daemon's user, who owns the socket
                st = os.stat(self.url.removeprefix("unix://"))
            except OSError:
                return 0, 0
            return st.st_uid, st.st_gid
        return 0, 0


def _subid(path: str, user: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                name, _, rest = line.strip().partition(":")
                if name == user:
                    return int(rest.split(":")[0])
    except (OSError, ValueError):
        pass
    return 0
