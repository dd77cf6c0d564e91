"""Loads the API's index page and one batch's page in headless Chromium (Debian's
`chromium`, driven by Playwright from PyPI) and prints what a reader sees there, as JSON:
the batches table, the chart's bars, each route's example link and its HTTP status, the
batch page's rejected rows. Writes a screenshot of each page.

Usage: python3 browse.py BASE_URL BATCH_ID SCREENSHOT_DIR
"""

import json
import sys

from playwright.sync_api import sync_playwright

base, batch, shots = sys.argv[1], sys.argv[2], sys.argv[3]
seen = {}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page()
    response = page.goto(base + "/")
    seen["index_status"] = response.status
    seen["batches"] = [
        [cell.inner_text() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all("#batches tr")
        if row.query_selector("td")
    ]
    seen["bars"] = len(page.query_selector_all("#throughput rect.bar"))
    seen["bar_titles"] = [t.text_content() for t in page.query_selector_all("#throughput rect.bar title")]
    links = [a.get_attribute("href") for a in page.query_selector_all("dd a")]
    seen["route_links"] = {href: page.request.get(base + href).status for href in links}
    page.screenshot(path=f"{shots}/index.png", full_page=True)
    page.click(f"#batches a[href='/history/{batch}']")
    page.wait_for_load_state()
    seen["batch_url"] = page.url
    seen["batch_title"] = page.title()
    seen["rejects"] = [li.inner_text() for li in page.query_selector_all("#rejects li")]
    seen["sources"] = [
        [cell.inner_text() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all("#sources tr")
        if row.query_selector("td")
    ]
    page.screenshot(path=f"{shots}/batch.png", full_page=True)
    browser.close()
print(json.dumps(seen))
