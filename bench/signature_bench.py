"""Cost of an add-on image's signature check (SPEC section 10): first check against a local
registry (manifest + payload blob over HTTP + ECDSA), then the cached check a run makes.

Starts a private Debian ``docker-registry`` on loopback, pushes the busybox test image with
Docker and signs it in cosign's format (as the integration tests do). Prints figures, asserts
nothing. Usage: ``.venv/bin/python bench/signature_bench.py [ROUNDS]``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flwd.adapters.cosign_verifier import CosignSignatureVerifier  # noqa: E402
from flwd.domain.model import PolicyBundle, Profile  # noqa: E402
from flwd.domain.policy.signatures import check_image_signature  # noqa: E402
from tests.cosign_support import new_key_pair  # noqa: E402
from tests.integration.cosign_sign import manifest_digest, sign_image  # noqa: E402
from tests.integration.oci_registry import LocalRegistry  # noqa: E402


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.3f} ms, p95 {p95 * 1000:.3f} ms"


def main(rounds: int) -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; {rounds} rounds")
    registry = LocalRegistry()
    try:
        repository = registry.repository("bench")
        registry.push(repository, "1", "bench")
        digest = manifest_digest(registry, repository, "1")
        key = new_key_pair()
        sign_image(registry, repository, digest, key)
        bundle = PolicyBundle(signature_keys=(key.trusted("cosign.pub"),))
        image = f"{registry.host}/{repository}"
        cold, warm = [], []
        for _ in range(rounds):
            verifier = CosignSignatureVerifier()
            start = time.perf_counter()
            check_image_signature(bundle, verifier, image, digest, profile=Profile.SECURE)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            check_image_signature(bundle, verifier, image, digest, profile=Profile.SECURE)
            warm.append(time.perf_counter() - start)
        print(f"first check (registry + ECDSA): {_ms(cold)}")
        print(f"cached check (what each run pays): {_ms(warm)}")
    finally:
        registry.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
