"""The login page still works in a real browser behind RequireLogin (which refuses every route but the
login page's own), and a signed-in annotator sees the data but not the admin tabs."""

from __future__ import annotations

import chromium
import pytest
from secapp import DATASET, SECRET, USERS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not chromium.CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


def test_sign_in_through_the_login_page(secured) -> None:
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = chromium.launch(p)
        try:
            page = browser.new_page()
            refused: list[str] = []
            page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
            page.goto(secured.url)
            password = page.locator("input[type=password]")
            expect(password).to_be_visible(timeout=30_000)
            assert SECRET not in page.content() and DATASET not in page.content()
            page.locator("input[type=text]").first.fill("bob")
            password.fill(USERS["bob"].password)
            password.press("Enter")
            expect(page.locator("#ftd-identity")).to_contain_text("bob", timeout=30_000)
            expect(page.locator("#ftd-card")).to_contain_text(SECRET, timeout=30_000)
            expect(page.get_by_role("tab", name="Train")).to_have_count(0)
            assert not refused, f"the page asked for routes the login refused: {refused}"
        finally:
            browser.close()
