"""Take docs/review.png: the sample sheet's review page, filtered to its invalid rows.

Run from the project folder, dev tools installed: `.venv/bin/python -m docs.make_screenshot`. It
renders sample_data/leads.xlsx with templates/outreach.json into a temporary folder and opens
the page in Debian's Chromium with no network (see tests/browser.py). Debian's
fonts-noto-color-emoji, when installed, draws the sample's emoji.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from merge.review.offline import render_to_folder
from tests.browser import missing, offline_browser

ROOT = Path(__file__).resolve().parents[1]
SHOT = ROOT / "docs" / "review.png"
SIZE = {"width": 1200, "height": 1180}


def main() -> int:
    """Render the sample, open its page, show the invalid rows, and save the picture."""
    reason = missing()
    if reason is not None:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        sample = ROOT / "sample_data" / "leads.xlsx"
        summary = render_to_folder(sample, ROOT / "templates" / "outreach.json", Path(folder))
        with offline_browser(Path(folder) / "profile", SIZE) as browser:
            tab = browser.new_page()
            tab.goto((summary.folder / "review.html").as_uri())
            tab.wait_for_selector("body[data-ready]")
            tab.click("button.tile.invalid")
            tab.wait_for_selector("article.card[data-row='8']")
            tab.screenshot(path=str(SHOT))
    print(f"wrote {SHOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
