"""Browser tests of the operator pages (issue 22): headless Chromium from Debian's ``chromium`` and
``chromium-driver`` packages (``.ci/run`` installs them), driven by Selenium (:mod:`uibrowser`). Without them the
tests skip on a developer's machine and FAIL under CI (``CI=true``), so CI cannot pass without running them.

Screenshots of every page go to the test's ``tmp_path`` and, outside CI, are copied to
``/tmp/kumahc-ui-screenshots/`` to be looked at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import harness  # envoy-testbed/ is on the path (pyproject: pytest pythonpath)
import pytest
from uibrowser import browser_paths as find_browser
from uibrowser import make_driver

SHOTS = Path("/tmp/kumahc-ui-screenshots")


@pytest.fixture(scope="session")
def browser_paths() -> tuple[str, str]:
    found = find_browser()
    if found is None:
        reason = ("chromium and chromedriver are not installed (Debian packages chromium and chromium-driver; "
                  ".ci/run installs them)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture
def browser(browser_paths: tuple[str, str]) -> Iterator:
    b = make_driver(browser_paths)
    try:
        yield b
    finally:
        b.quit()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[object, str], Path]:
    """``screenshot(driver, name)``: the whole window as ``tmp_path/name.png`` (copied to :data:`SHOTS` outside
    CI)."""

    def take(driver: object, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        driver.execute_script("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
        driver.save_screenshot(str(path))  # type: ignore[attr-defined]
        if os.environ.get("CI") != "true":
            SHOTS.mkdir(exist_ok=True)
            shutil.copy(path, SHOTS / path.name)
        return path

    return take


@pytest.fixture(scope="session")
def envoy_binary() -> str:
    try:
        return harness.envoy_binary()
    except harness.EnvoyError as exc:
        pytest.fail(str(exc))
