"""The AddonImages port on Docker: pulls through the runtime adapter, reads files through
docker-py's ``get_archive`` from a container that is created and never started."""

from __future__ import annotations

import time
from typing import Any, Callable

import docker
import docker.errors

from flwd.adapters._addon_common import (
    LABEL_ADDON_READER,
    READER_COMMAND,
    STALE_READER_SECONDS,
    manifest_from_archive,
    pinned_from_repo_digests,
    read_then_remove,
    stale_readers,
)
from flwd.adapters._runtime_common import translate_api_error
from flwd.adapters.docker_runtime import DockerRuntime
from flwd.ports.addons import ManifestDocument, PinnedImage
from flwd.ports.runtime import PullProgress

_DIGEST_STATUS = "Digest: "  # the pull stream's own line naming what it resolved


class DockerAddonImages:
    """Add-on images in the image store of the Docker daemon *runtime* speaks to."""

    def __init__(self, runtime: DockerRuntime, stale_after: float = STALE_READER_SECONDS) -> None:
        self._runtime = runtime
        self._stale_after = stale_after

    def _api(self) -> docker.APIClient:
        return self._runtime.client().api

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> PinnedImage:
        resolved: list[str] = []

        def watch(step: PullProgress) -> None:
            if step.status.startswith(_DIGEST_STATUS):
                resolved.append(step.status.removeprefix(_DIGEST_STATUS).strip())
            progress(step)

        self._runtime.ensure_image(ref, "always", watch)
        try:
            info = self._api().inspect_image(ref)
        except Exception as exc:
            raise translate_api_error(exc, "pull", image=ref) from exc
        return pinned_from_repo_digests(ref, info.get("RepoDigests") or [],
                                        resolved[-1] if resolved else "")

    def present(self, pinned: str) -> bool:
        return self._runtime.has_image(pinned)

    def read_manifest(self, pinned: str) -> ManifestDocument:
        api = self._api()
        self._remove_stale_readers(api)
        try:
            created = api.create_container(pinned, command=READER_COMMAND, network_disabled=True,
                                           labels={LABEL_ADDON_READER: pinned})
        except Exception as exc:
            raise translate_api_error(exc, "create", image=pinned) from exc
        container_id = str(created["Id"])
        return read_then_remove(lambda path: self._archive(api, container_id, pinned, path),
                                lambda: self._remove(api, container_id), pinned)

    @staticmethod
    def _archive(api: Any, container_id: str, pinned: str, path: str) -> ManifestDocument | None:
        try:
            chunks, _ = api.get_archive(container_id, path)
        except docker.errors.NotFound:
            return None
        except Exception as exc:
            raise translate_api_error(exc, "copy", image=pinned, path=path) from exc
        try:
            return manifest_from_archive(chunks, image=pinned, path=path)
        except Exception as exc:
            raise translate_api_error(exc, "copy", image=pinned, path=path) from exc

    def _remove_stale_readers(self, api: Any) -> None:
        try:
            listed = api.containers(all=True, filters={"label": LABEL_ADDON_READER})
        except Exception as exc:
            raise translate_api_error(exc, "list") from exc
        entries = [(str(e["Id"]), float(e["Created"]) if isinstance(e.get("Created"), int) else None)
                   for e in listed]
        for container_id in stale_readers(entries, time.time(), self._stale_after):
            self._remove(api, container_id)

    @staticmethod
    def _remove(api: Any, container_id: str) -> None:
        try:
            api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            return
        except Exception as exc:
            raise translate_api_error(exc, "remove", container=container_id) from exc
