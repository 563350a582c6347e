"""Playwright (sync API) driving Debian's chromium against a real ``flwd :serve``: Playwright's
own browser download cannot work here, so it launches /usr/bin/chromium with a fresh profile."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# where to copy the main pages' screenshots besides the test's tmp dir (docs/screenshots/)
SCREENSHOTS_ENV = "FLWD_SCREENSHOTS_DIR"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshot(page: Any, directory: Path, name: str, *, publish: bool = False) -> Path:
    """A full-page screenshot under *directory*; with *publish*, also copied to
    ``$FLWD_SCREENSHOTS_DIR`` when that is set (how docs/screenshots/ is refreshed)."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get(SCREENSHOTS_ENV)
    if publish and target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)
    return path


def sign_in(page: Any, base: str, token: str) -> None:
    """Signs in with the keyboard only: type the token, press Enter."""
    page.goto(f"{base}/ui/")
    page.wait_for_url("**/ui/signin**")
    page.focus("#token")
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/jobs")


def browser_storage(page: Any) -> str:
    """Everything the page's origin keeps in the browser: both storages and every cookie."""
    storages = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    cookies = page.context.cookies()
    return storages + repr(cookies)
