"""The AddonImages port on Podman: pulls through the runtime adapter, reads files through
libpod's archive API from a container that is created and never started."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Callable

from flwd.adapters._addon_common import (
    LABEL_ADDON_READER,
    READER_COMMAND,
    STALE_READER_SECONDS,
    manifest_from_archive,
    pinned_from_repo_digests,
    read_then_remove,
    stale_readers,
)
from flwd.adapters.podman_api import REMOVE_VOLUMES, LibpodApi
from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.ports.addons import ManifestDocument, PinnedImage
from flwd.ports.runtime import PullProgress


class PodmanAddonImages:
    """Add-on images in the image store of the Podman service *runtime* speaks to."""

    def __init__(self, runtime: PodmanRuntime, stale_after: float = STALE_READER_SECONDS) -> None:
        self._runtime = runtime
        self._stale_after = stale_after

    @property
    def _api(self) -> LibpodApi:
        return self._runtime.api

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> PinnedImage:
        self._runtime.ensure_image(ref, "always", progress)
        info = self._inspect(ref, "pull")
        digests = [str(d) for d in info.get("RepoDigests") or ()]
        return pinned_from_repo_digests(ref, digests, str(info.get("Digest") or ""))

    def present(self, pinned: str) -> bool:
        return self._runtime.has_image(pinned)

    def read_manifest(self, pinned: str) -> ManifestDocument:
        self._remove_stale_readers()
        container_id = self._create_reader(pinned)
        return read_then_remove(lambda path: self._archive(container_id, pinned, path),
                                lambda: self._remove(container_id), pinned)

    def _inspect(self, image: str, action: str) -> dict[str, Any]:
        response = self._api.call("get", f"/images/{image}/json", action)
        if response.status_code != 200:
            raise self._api.fail(response, action, image=image)
        return dict(response.json())

    def _create_reader(self, pinned: str) -> str:
        body = {"image": pinned, "command": READER_COMMAND, "labels": {LABEL_ADDON_READER: pinned},
                "netns": {"nsmode": "none"}, "image_volume_mode": "ignore"}
        response = self._api.call("post", "/containers/create", "create", data=json.dumps(body),
                                  headers={"Content-Type": "application/json"})
        if response.status_code != 201:
            raise self._api.fail(response, "create", image=pinned)
        return str(response.json()["Id"])

    def _archive(self, container_id: str, pinned: str, path: str) -> ManifestDocument | None:
        response = self._api.call("get", f"/containers/{container_id}/archive", "copy",
                                  params={"path": path}, stream=True)
        try:
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise self._api.fail(response, "copy", image=pinned, path=path)
            chunks = self._api.streamed(response.iter_content(chunk_size=65536), "copy")
            return manifest_from_archive(chunks, image=pinned, path=path)
        finally:
            response.close()

    def _remove_stale_readers(self) -> None:
        response = self._api.call("get", "/containers/json", "list", params={
            "all": True, "filters": json.dumps({"label": [LABEL_ADDON_READER]})})
        if response.status_code != 200:
            raise self._api.fail(response, "list")
        entries = [(str(e["Id"]), _epoch(e.get("Created"))) for e in response.json() or []]
        for container_id in stale_readers(entries, time.time(), self._stale_after):
            self._remove(container_id)

    def _remove(self, container_id: str) -> None:
        response = self._api.call("delete", f"/containers/{container_id}", "remove",
                                  params=REMOVE_VOLUMES)
        if response.status_code not in (200, 204, 404):
            raise self._api.fail(response, "remove", container=container_id)


def _epoch(created: object) -> float | None:
    """libpod's ``Created`` (RFC 3339 with nanoseconds) in epoch seconds."""
    try:
        return datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return None
