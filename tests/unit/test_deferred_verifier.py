"""The signature verifier is made on the first check: a local job's run never loads cosign's
imports (requests, python-dxf, cryptography), while add-on checks get the real verifier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flwd.adapters.deferred_verifier import DeferredVerifier
from flwd.adapters.fake_signatures import FakeSignatureVerifier
from flwd.ports.signatures import SignatureKey, SignatureStatus

DIGEST = "sha256:" + "ab" * 32
KEY = SignatureKey(path="/keys/team.pub", pem=b"-----BEGIN PUBLIC KEY-----\n")


def test_verifier_is_made_once_and_only_at_the_first_check_when_checks_come() -> None:
    made: list[FakeSignatureVerifier] = []

    def make() -> FakeSignatureVerifier:
        made.append(FakeSignatureVerifier())
        made[-1].sign("127.0.0.1:5000/tools/pg", DIGEST, KEY.path)
        return made[-1]

    deferred = DeferredVerifier(make)
    assert made == []

    first = deferred.verify("127.0.0.1:5000/tools/pg", DIGEST, (KEY,))
    second = deferred.verify("127.0.0.1:5000/tools/other", DIGEST, (KEY,))

    assert len(made) == 1
    assert (first.status, first.key) == (SignatureStatus.VALID, KEY.path)
    assert second.status is SignatureStatus.MISSING
    assert made[0].checked == [("127.0.0.1:5000/tools/pg", DIGEST),
                               ("127.0.0.1:5000/tools/other", DIGEST)]


_PROBE = """
import json, sys
from dependency_injector import providers
from flwd.adapters.runtime_detect import RuntimeEndpoint
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import build_container
from flwd.ports.kinds import RuntimeKind

container = build_container(FlwdConfig(jobs_dirs=(sys.argv[1],), data_dir=sys.argv[2]))
container.runtime_found.override(providers.Object(
    RuntimeEndpoint(kind=RuntimeKind.DOCKER, url="unix:///nonexistent.sock")))
container.start_run()
container.signature_check()
heavy = ("flwd.adapters.cosign_verifier", "flwd.adapters.cosign_format", "dxf", "cryptography")
loaded = [m for m in heavy if m in sys.modules]
made = type(container.signatures()._make()).__name__
print(json.dumps({"loaded": loaded, "made": made}))
container.shutdown_resources()
"""


def test_run_use_case_loads_no_signature_verifier_until_a_check_when_built(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path), str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"loaded": [], "made": "CosignSignatureVerifier"}
