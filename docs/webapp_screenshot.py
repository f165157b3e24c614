"""Regenerate docs/webapp.png: ask the running web app one question in headless Chromium and screenshot it.

    python examples/webapp/app.py --model local:smollm2 &          # serves http://127.0.0.1:8000
    python docs/webapp_screenshot.py http://127.0.0.1:8000/ "How can I sleep better?" docs/webapp.png

Needs Playwright's Python package (the ``dev`` extra) and Debian's Chromium (``.ci/browser-deps``).
"""

import sys

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(url: str, question: str, path: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 700}, device_scale_factor=1)
        page.goto(url)
        page.fill("#question", question)
        page.click("#submit")
        page.wait_for_selector("body:not([data-state=streaming])", timeout=600_000)
        page.screenshot(path=path, full_page=True)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
