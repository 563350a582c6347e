"""The console's sources page in a real browser: add an OCI add-on from the local registry,
see its jobs, run one, remove the source (SPEC sections 10 and 12), on Docker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.addon_images import push_addon
from tests.integration.api_support import Server, serving, shared_dir
from tests.integration.browser_support import browser, screenshot, sign_in  # noqa: F401 (fixture)
from tests.integration.oci_registry import LocalRegistry

pytestmark = [pytest.mark.browser, pytest.mark.docker]


@pytest.fixture(scope="module")
def server(docker_socket: str) -> Iterator[Server]:
    base = shared_dir("console-src-")
    for name in ("jobs", "data", "home"):
        (base / name).mkdir(mode=0o755)
    (base / "policy.yaml").write_text("verify_signatures: disabled\n")
    env = {"DOCKER_HOST": docker_socket, "FLWD_POLICY_FILE": str(base / "policy.yaml")}
    with serving(base, ["--dev"], env, ["--runtime", "docker"]) as server:
        yield server


def test_add_run_and_remove_an_addon_from_the_sources_page(
        browser: Any, server: Server, local_registry: LocalRegistry, tmp_path: Path) -> None:
    addon = push_addon(local_registry, "console-hello")
    context = browser.new_context(base_url=server.url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        sign_in(page, server.url, "dev-token")
        page.goto("/ui/sources/")
        page.fill("#src-name", "tools")
        page.fill("#src-ref", addon.ref)
        page.click("button:has-text('Add source')")
        assert "source.trust.required" in page.inner_text("#add-problem")
        page.check("#src-trusted")
        page.click("button:has-text('Add source')")

        row = page.locator('tr[data-source="tools"]')
        assert addon.digest in row.inner_text()
        screenshot(page, tmp_path, "sources", publish=True)
        page.click("a:has-text('tools/hello')")
        page.wait_for_url(re.compile(r".*/ui/jobs/tools/hello$"))
        assert addon.digest in page.content()
        page.fill("#arg-name", "Ada")
        page.click('button[value="run"]')
        page.locator("#output", has_text="Hello Ada").wait_for(timeout=90_000)
        page.wait_for_selector('#summary [data-status="succeeded"]')

        page.goto("/ui/sources/")
        page.click('tr[data-source="tools"] button:has-text("Remove")')
        page.wait_for_url(re.compile(r".*/ui/sources/$"))
        assert page.locator('tr[data-source="tools"]').count() == 0
    finally:
        context.close()
