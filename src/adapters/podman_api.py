"""Speaking libpod's REST API through podman-py: one request at a time, failures as coded errors."""

from __future__ import annotations

from typing import Any, Iterator, TypeVar

from flwd.adapters._runtime_common import check_reachable
from flwd.adapters.podman_service import CRUN_HINT
from flwd.domain.errors import FlwdError, OciError, RuntimeUnavailableError

T = TypeVar("T")
#: What a container's removal asks of libpod: its anonymous volumes go with it. libpod reads
#: ``volumes`` (``v`` is only its Docker-compatible API's name, ignored here: an image's
#: VOLUME was left behind by every removal).
REMOVE_VOLUMES = {"force": True, "volumes": True}


class LibpodApi:
    """A lazily connected podman-py client of the service at *url*."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            check_reachable(self.url, "Podman")
            from podman import PodmanClient  # heavy import: only when a runtime is used

            self._client = PodmanClient(base_url=self.url, timeout=self.timeout)
        return self._client.api

    def call(self, method: str, path: str, action: str, **kwargs: Any) -> Any:
        """One libpod request; connection failures become RuntimeUnavailableError."""
        kwargs.setdefault("timeout", (2.0, self.timeout))
        try:
            return getattr(self._api(), method)(path, **kwargs)
        except FlwdError:
            raise
        except OSError as exc:
            raise self._unavailable(action, exc) from exc
        except Exception as exc:  # podman-py wraps socket errors in APIError
            if isinstance(exc.__cause__, OSError):
                raise self._unavailable(action, exc.__cause__) from exc
            raise OciError(f"{action} failed: {exc}", action=action, socket=self.url) from exc

    def streamed(self, chunks: Iterator[T], action: str) -> Iterator[T]:
        """*chunks* of a streamed answer; a connection that breaks mid-read (requests' errors
        are OSErrors) is the service gone, as for a request that cannot be sent."""
        try:
            yield from chunks
        except OSError as exc:
            raise self._unavailable(action, exc) from exc

    def _unavailable(self, action: str, exc: BaseException) -> RuntimeUnavailableError:
        return RuntimeUnavailableError(
            f"Podman at {self.url} failed during {action}: {exc}", runtime="podman",
            socket=self.url, action=action,
        )

    def fail(self, response: Any, action: str, **context: object) -> OciError:
        """The coded error for a libpod answer that is not the one *action* expects."""
        text = error_message(response)
        if "crun" in text and action in ("create", "start"):
            text = f"{text} ({CRUN_HINT})"
        return OciError(f"{action} failed: {text}", action=action,
                        status=response.status_code, socket=self.url, **context)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def error_message(response: Any) -> str:
    """libpod's own words for a failed request."""
    try:
        body = response.json()
        return str(body.get("message") or body.get("cause") or response.text).strip()
    except ValueError:
        return str(response.text).strip() or f"HTTP {response.status_code}"


def not_running(response: Any) -> bool:
    """Whether a stop/kill failed only because the container no longer runs."""
    return "state improper" in error_message(response) or "not running" in error_message(response)
