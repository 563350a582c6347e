"""The signature port over a real registry: cosign's ``.sig`` artifact read with python-dxf.

The registry is asked directly (the OCI distribution API), not through Podman or Docker, so
a check behaves the same whatever the runtime. Loopback registries (``localhost:PORT``,
``127.x.x.x:PORT``, ``[::1]:PORT``) are spoken to over plain HTTP, as Docker treats them as
insecure by itself; every other registry over HTTPS. Verdicts are cached in memory per
repository, digest and keys (bounded): a valid one for the process's life (a digest's
content never changes), a missing or invalid one for ``recheck_seconds`` (a signature may be
pushed later). Registry failures are never cached. A registry cannot stretch a check: one
deadline covers all of its requests and every answer is read up to a limit (``_bounded_http``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from typing import Callable, Iterable, cast

import requests
from dxf import DXF, DXFBase
from dxf.exceptions import DXFDigestMismatchError, DXFError

from flwd.adapters._bounded_http import BodyTooLargeError, Deadline, bounded_session, deadline
from flwd.adapters.cosign_format import check_signature, signature_layers, signature_tag
from flwd.adapters.loopback import is_loopback
from flwd.domain.errors import OciError
from flwd.ports.signatures import SignatureKey, SignatureStatus, SignatureVerdict

#: Where a registry's API answers when it is not at the name images use.
API_HOSTS = {"docker.io": "registry-1.docker.io"}
MAX_PAYLOAD_BYTES = 1 << 20  # a simple-signing payload is a few hundred bytes
MAX_MANIFEST_BYTES = 4 << 20  # what the distribution spec asks registries to accept

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")
_Key = tuple[str, str, tuple[SignatureKey, ...]]


def registry_on_loopback(host: str) -> bool:
    """Whether registry *host* (``name[:port]``, ``[v6]:port``) is on this machine."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return is_loopback(name.strip("[]"))


def _anonymous(client: DXFBase, response: requests.Response) -> None:
    client.authenticate(response=response)  # a bearer token for public pulls, as docker pull


class _BoundedDXF(DXF):
    """python-dxf over a ``bounded_session``: no answer it reads is over ``MAX_MANIFEST_BYTES``
    (blobs are streamed and bounded by ``_read_payload``)."""

    def __enter__(self) -> _BoundedDXF:
        self._sessions.insert(0, bounded_session(MAX_MANIFEST_BYTES))  # DXF.__exit__ closes it
        return self


class CosignSignatureVerifier:
    """``SignatureVerifier`` for cosign key-pair signatures (see ``cosign_format``);
    *timeout* bounds each socket read, *deadline* a whole check."""

    def __init__(self, *, timeout: float = 10.0, deadline: float = 60.0, cache_size: int = 256,
                 recheck_seconds: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._timeout = timeout
        self._deadline = deadline
        self._size = cache_size
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._cache: OrderedDict[_Key, tuple[SignatureVerdict, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, repository: str, digest: str, keys: tuple[SignatureKey, ...]
               ) -> SignatureVerdict:
        key = (repository, digest, keys)
        cached = self._cached(key)
        if cached is not None:
            return cached
        verdict = self._ask(repository, digest, keys)
        with self._lock:
            self._cache[key] = (verdict, self._monotonic())
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return verdict

    def _cached(self, key: _Key) -> SignatureVerdict | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            verdict, when = hit
            if verdict.status is not SignatureStatus.VALID and \
                    self._monotonic() - when >= self._recheck:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return verdict

    def _ask(self, repository: str, digest: str, keys: tuple[SignatureKey, ...]
             ) -> SignatureVerdict:
        host, _, path = repository.partition("/")
        client = _BoundedDXF(API_HOSTS.get(host, host), path, auth=_anonymous,
                             insecure=registry_on_loopback(host), timeout=self._timeout)
        tag = signature_tag(digest)
        with deadline(self._deadline) as limit:
            try:
                with client:
                    text, _ = client.get_manifest_and_response(tag)
                    verdict = self._judge(client, text, digest, keys)
                if limit.expired:  # an answer cut short by the deadline proves nothing
                    raise requests.Timeout()
                return verdict
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code == 404:
                    return SignatureVerdict(status=SignatureStatus.MISSING,
                                            reason=f"no {tag} in {repository}")
                raise self._failed(repository, tag, exc, limit) from exc
            except (requests.RequestException, DXFError, OSError, ValueError, KeyError) as exc:
                # ValueError, KeyError: a manifest that is not UTF-8, a token answer without token
                raise self._failed(repository, tag, exc, limit) from exc

    def _judge(self, client: DXF, text: str, digest: str, keys: tuple[SignatureKey, ...]
               ) -> SignatureVerdict:
        try:
            manifest = json.loads(text)
        except ValueError:
            manifest = None
        layers = signature_layers(manifest) if isinstance(manifest, dict) else ()
        if not layers:
            return SignatureVerdict(status=SignatureStatus.INVALID,
                                    reason="its .sig manifest holds no cosign signature")
        reasons: list[str] = []
        for layer in layers:
            payload, reason = _read_payload(client, layer.blob_digest)
            if payload is None:
                reasons.append(reason)
                continue
            signer, reason = check_signature(payload, layer.signature, digest, keys)
            if signer is not None:
                return SignatureVerdict(status=SignatureStatus.VALID, key=signer.path)
            reasons.append(reason)
        return SignatureVerdict(status=SignatureStatus.INVALID,
                                reason="; ".join(dict.fromkeys(reasons)))

    @staticmethod
    def _failed(repository: str, tag: str, exc: Exception, limit: Deadline) -> OciError:
        return OciError(f"cannot read the signatures of {repository} ({tag}) from its registry: "
                        f"{_describe(exc, limit)}", image=repository)


def _describe(exc: Exception, limit: Deadline) -> str:
    """A one-line account of a registry failure, without urllib3's nested reprs."""
    if limit.expired:
        return f"no complete answer within {limit.seconds:g} s"
    if isinstance(exc, BodyTooLargeError):
        return str(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}".strip()
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        found = _ERRNO.search(str(exc))
        return f"cannot connect ({found.group(1)})" if found else "cannot connect"
    return f"{type(exc).__name__}: {exc}"


def _read_payload(client: DXF, digest: str) -> tuple[bytes | None, str]:
    """Layer blob *digest* (python-dxf checks the content against the digest as it reads), or
    ``None`` and why that one signature cannot count; a registry failure still raises."""
    data = bytearray()
    try:
        for chunk in cast("Iterable[bytes]", client.pull_blob(digest)):  # size=False: chunks
            data += chunk
            if len(data) > MAX_PAYLOAD_BYTES:
                return None, f"its payload {digest} is larger than {MAX_PAYLOAD_BYTES} bytes"
    except DXFDigestMismatchError:
        return None, f"its payload does not match its digest {digest}"
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code != 404:
            raise
        return None, f"its payload {digest} is missing from the registry"
    return bytes(data), ""
