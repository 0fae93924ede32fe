"""Headless Chromium for the operator-page tests: Debian's ``chromium`` and ``chromium-driver`` packages, driven by
Selenium with the system chromedriver (never a download)."""

from __future__ import annotations

import shutil

# Every wait ends at its event; this bound only stops a broken run (a loaded 2-core machine is slow, not wrong).
WAIT = 60.0


def browser_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) on PATH, or None."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def make_driver(paths: tuple[str, str], *extra: str):
    """A headless Chrome WebDriver (1280x900); ``extra``: more command-line switches. Quit it when done."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--disable-renderer-backgrounding", "--disable-background-timer-throttling", *extra):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    browser.set_page_load_timeout(WAIT)
    return browser
