"""Headless Chromium (Debian's chromium) through Playwright from PyPI, for what a browser shows."""
import contextlib

import pytest

playwright = pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def chromium_page(url):
    """A page of a fresh headless Chromium, at `url`; the browser closes after."""
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        yield page
        browser.close()
