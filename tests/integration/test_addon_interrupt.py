"""An add that is stopped while it reads an add-on's manifest (SPEC section 10) leaves no
reader container and records nothing, on rootless Podman and Docker: ``flwd :sources add`` is
sent SIGTERM (as ``timeout`` or a service manager sends it) while the runtime holds back the
archive answer."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.addon_images import push_addon
from tests.integration.delay_proxy import DelayingProxy
from tests.integration.e2e_support import FLWD, RUNTIMES, Runtime, runtime_for
from tests.integration.oci_registry import LocalRegistry

EXIT_CANCELED = 130
WAIT_SECONDS = 60.0


@pytest.fixture(params=RUNTIMES)
def rt(request: pytest.FixtureRequest, registry_podman: str) -> Runtime:
    if request.param == "podman":
        return Runtime(name="podman", socket=registry_podman)
    return runtime_for(request.param, request)


def readers(rt: Runtime, pinned: str) -> list[str]:
    done = rt.cli("ps", "-a", "--filter", f"label=flwd.addon-reader={pinned}", "--format", "{{.ID}}")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_sigterm_while_reading_the_manifest_leaves_no_reader_and_no_source(
    rt: Runtime, local_registry: LocalRegistry, shared_tmp: Path
) -> None:
    """SIGTERM ended the process where it stood: the created reader stayed for good."""
    pushed = push_addon(local_registry, "term")
    (shared_tmp / "policy.yaml").write_text("verify_signatures: disabled\n")
    proxy = DelayingProxy(rt.socket, WAIT_SECONDS, match=(b"/archive",))
    argv = [FLWD, "--runtime", rt.name, "--data-dir", str(shared_tmp / "data"),
            "--jobs-dir", str(shared_tmp)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(shared_tmp), "LANG": "C.UTF-8",
           "FLWD_POLICY_FILE": str(shared_tmp / "policy.yaml"),
           **Runtime(name=rt.name, socket=proxy.url).env}
    try:
        adding = subprocess.Popen([*argv, ":sources", "add", "term", pushed.ref, "--trusted"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + WAIT_SECONDS
        while not readers(rt, pushed.pinned) and time.monotonic() < deadline:
            assert adding.poll() is None, adding.communicate()
            time.sleep(0.2)
        assert readers(rt, pushed.pinned), "the reader container never appeared"

        adding.send_signal(signal.SIGTERM)
        _, err = adding.communicate(timeout=WAIT_SECONDS)
    finally:
        proxy.close()

    listed = subprocess.run([*argv, ":sources", "--json"], env=env | rt.env, capture_output=True,
                            text=True, timeout=60)
    assert adding.returncode == EXIT_CANCELED, err
    assert readers(rt, pushed.pinned) == []
    assert json.loads(listed.stdout) == {"sources": []}, listed.stderr
