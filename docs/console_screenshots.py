"""Take the screenshots of docs/console.md (docs/console/*.png) from a running console.

The same archive, users, console and Chromium as the browser tests (tests/console/browser.py):
a small sandbox account archived for real, with flags, an edited message and attachments, in
a temporary directory. Run after changing a page, look at the images, and commit them:

    PYTHONPATH=. .venv/bin/python docs/console_screenshots.py

Needs Debian's Chromium (`make chromium`); nothing is downloaded.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.console.browser import TERM, Site, browser_session, console_site, log_in

OUT = Path(__file__).resolve().parent / "console"
VIEWPORT = {"width": 1280, "height": 800}


def _shot(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(path.relative_to(OUT.parent.parent))


def _auditor(site: Site) -> None:
    with browser_session(site, VIEWPORT) as page:
        page.goto("/login")
        page.fill("#login-form input[name=username]", site.users["auditor"].name)
        _shot(page, "login")
        log_in(page, site.users["auditor"])
        page.fill("#search-form input[name=q]", TERM)
        page.click("#search-submit")
        expect(page.locator(".hit").first).to_be_visible()
        _shot(page, "search")
        page.locator(".hit a.hit-thread").first.click()
        expect(page.locator('#timeline .version[data-version-kind="edit"]')).to_have_count(1)
        _shot(page, "thread")


def _reviewer(site: Site) -> None:
    with browser_session(site, VIEWPORT) as page:
        log_in(page, site.users["reviewer"])
        expect(page.locator("#review-queue .review-item").first).to_be_visible()
        _shot(page, "review-queue")
        flag_id = site.archive.followed_flag_ids[0]
        page.goto(f"/review/{flag_id}")
        page.locator("#claim-form button").click()
        expect(page.locator("#decide-form")).to_be_visible()
        _shot(page, "review-item")


def _admin(site: Site) -> None:
    with browser_session(site, VIEWPORT) as page:
        log_in(page, site.users["admin"])
        page.fill("#hold-form [name=matter]", "acme-v-quokka")
        page.select_option("#hold-form [name=by]", "thread")
        page.fill("#hold-form [name=value]", site.archive.thread_id)
        page.fill("#hold-form [name=reason]", "Litigation notice received 2026-12-01")
        page.click("#hold-submit")
        expect(page.locator('#holds .hold[data-matter="acme-v-quokka"]')).to_be_visible()
        _shot(page, "holds")
        page.goto("/access")
        expect(page.locator("#access-log .access-event").first).to_be_visible()
        _shot(page, "access-log")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="console-screenshots-") as tmp,
        console_site(Path(tmp)) as site,
    ):
        _auditor(site)
        _reviewer(site)
        _admin(site)
    return 0


if __name__ == "__main__":
    sys.exit(main())
