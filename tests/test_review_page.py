"""The review page: built right offline (escaping, estimates, caps), and used in a real Chromium."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from merge.problems import Problem
from merge.review.offline import render_to_folder
from merge.review.page import (
    ReviewPage,
    escape_json,
    scene_seconds,
    sent_cards,
    voice_seconds,
)
from merge.settings import WORDS_PER_MINUTE
from tests.browser import offline_browser, require_browser
from tests.conftest import ROOT
from tests.submitting import HEADER, LEADS_XLSX, OUTREACH, lead, write_csv

DATA_BLOCK = re.compile(r'<script type="application/json" id="review-data">(.*?)</script>', re.S)
ATTACKS = {
    "first_name": "<script>window.pwned = 'script'</script>",
    "company": "<img src=x onerror=\"window.pwned = 'img'\">",
    "city": "</script><script>window.pwned = 'close'</script><!--",
    "product": "a\u2028b\u2029c & <b>bold</b>",
}


def page_data(text: str) -> dict[str, Any]:
    """Read the rows a page carries, as its script reads them."""
    match = DATA_BLOCK.search(text)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def text_voice(words: int, speed: Any = None) -> dict[str, Any]:
    voice: dict[str, Any] = {
        "type": "text",
        "voice_id": "v",
        "input_text": " ".join(["word"] * words),
    }
    if speed is not None:
        voice["speed"] = speed
    return voice


def body(*voices: dict[str, Any], title: str = "Hello") -> dict[str, Any]:
    scenes = [{"character": {"type": "avatar", "avatar_id": "a"}, "voice": v} for v in voices]
    return {"title": title, "video_inputs": scenes}


# ---- the estimate ----


def test_a_text_voice_speaks_its_words_at_the_rate_times_its_speed():
    assert voice_seconds(text_voice(WORDS_PER_MINUTE)) == 60.0
    assert voice_seconds(text_voice(WORDS_PER_MINUTE, 1.5)) == 40.0
    assert voice_seconds(text_voice(WORDS_PER_MINUTE, "0.5")) == 120.0
    assert voice_seconds({"type": "text", "input_text": "  one\n two\tthree  "}) == 1.2


@pytest.mark.parametrize("speed", ["fast", 0, -1, True, None, float("nan"), [1]])
def test_a_speed_that_is_not_a_usable_number_counts_as_one(speed):
    voice = text_voice(WORDS_PER_MINUTE)
    voice["speed"] = speed
    assert voice_seconds(voice) == 60.0


def test_silence_adds_its_duration_and_recorded_audio_is_unknown():
    payload = body(
        text_voice(15), {"type": "silence", "duration": 2.5}, {"type": "silence"}, {"type": "audio"}
    )
    assert scene_seconds(payload) == [6.0, 2.5, 1.0, None]
    assert scene_seconds({"video_inputs": "nope"}) == []
    assert scene_seconds(None) == []
    assert scene_seconds({"video_inputs": [None, {"voice": None}]}) == [None, None]


def test_the_summary_estimates_only_rows_that_make_a_video():
    page = ReviewPage("t")
    page.add({"row": 2, "status": "valid", "payload": body(text_voice(150), {"type": "audio"})})
    page.add({"row": 3, "status": "valid", "payload": body(text_voice(75))})
    page.add({"row": 4, "status": "invalid", "payload": body(text_voice(1500))})
    meta = page.meta()
    assert meta["seconds"] == 90.0
    assert meta["spoken_rows"] == 2
    assert meta["unknown_scenes"] == 1
    assert meta["counts"] == {"valid": 2, "invalid": 1}


def test_a_submit_page_estimates_rows_that_were_sent():
    page = ReviewPage("t", kind="submit")
    for status in ("submitted", "unknown", "failed", "skipped"):
        page.add({"row": 2, "status": status, "payload": body(text_voice(150))})
    assert page.meta()["seconds"] == 120.0
    assert page.meta()["spoken_label"] == "sent"


# ---- escaping and the cap ----


def test_no_cell_can_close_the_data_block_or_add_markup():
    nasty = "</script><script>alert(1)</script><!-- \u2028\u2029 & > <"
    page = ReviewPage(f"<b>{nasty}</b>")
    page.add(
        {"row": 2, "status": "valid", "payload": body(text_voice(3), title=nasty), "key": nasty}
    )
    html = page.html()
    assert html.lower().count("</script") == 2  # the data block's end and the script's end
    assert html.lower().count("<script") == 2
    assert "<!--" not in html
    block = DATA_BLOCK.search(html)
    assert block is not None
    assert "\u2028" not in block.group(1)
    assert "\u2029" not in block.group(1)
    assert "<title>&lt;b&gt;&lt;/script&gt;" in html
    data = page_data(html)
    assert data["rows"][0]["payload"]["title"] == nasty
    assert data["rows"][0]["key"] == nasty
    assert data["meta"]["title"] == f"<b>{nasty}</b>"


def test_escaped_json_reads_back_the_same():
    value = {"a": "<>&\u2028\u2029\\<", "b": ["</script>"]}
    assert json.loads(escape_json(json.dumps(value, ensure_ascii=False).encode())) == value


def test_a_value_orjson_refuses_still_makes_a_page():
    page = ReviewPage("t")
    page.add({"row": 2, "status": "invalid", "payload": {"title": "x\udc80", "n": 2**70}})
    assert page_data(page.html())["rows"][0]["payload"]["n"] == 2**70


def test_the_page_holds_cards_up_to_its_limit_and_counts_every_row():
    page = ReviewPage("t", limit=3)
    for number in range(2, 12):
        page.add({"row": number, "status": "valid", "payload": body(text_voice(150))})
    data = page_data(page.html())
    assert [r["row"] for r in data["rows"]] == [2, 3, 4]
    assert data["meta"]["rows"] == 10
    assert data["meta"]["shown"] == 3
    assert data["meta"]["seconds"] == 600.0


# ---- submit's page: rows rebuilt from the output's cells and the bodies sent ----


def test_sent_cards_follow_sheet_order_with_bodies_and_answers():
    speed = Problem("video_inputs[0].voice.speed", "2 is above 1.5", "speed")
    colour = Problem("video_inputs[0].background.value", '"a; b" is not a hex colour', "Price|EUR")
    values = {
        5: ("", "invalid", f"{speed.describe()}; {colour.describe()}", "", ""),
        2: ("vid", "submitted", "", "am-1-row-2", "2026-01-01T00:00:00Z"),
        3: ("", "failed", "HTTP 400: bad voice", "am-1-row-3", ""),
    }
    bodies = {2: json.dumps(body(text_voice(3))).encode(), 3: b'{"video_inputs": []}'}
    cards = list(sent_cards(values, bodies, {5: [speed, colour]}))
    assert [c["row"] for c in cards] == [2, 3, 5]
    assert cards[0]["video_id"] == "vid"
    assert cards[0]["payload"]["title"] == "Hello"
    assert cards[1]["error"] == "HTTP 400: bad voice"
    assert cards[2]["problems"] == [speed.as_dict(), colour.as_dict()]


# ---- what render and submit write ----


def test_render_writes_the_page_beside_payloads_jsonl(tmp_path):
    summary = render_to_folder(LEADS_XLSX, OUTREACH, tmp_path / "review")
    data = page_data((summary.folder / "review.html").read_text("utf-8"))
    assert data["meta"]["counts"] == {"valid": 21, "invalid": 4}
    assert data["meta"]["title"] == 'Review: leads.xlsx, sheet "Leads"'
    assert [r["row"] for r in data["rows"]] == list(range(2, 27))
    row8 = data["rows"][6]
    assert row8["problems"][0]["column"] == "speed"
    assert row8["seconds"] == [pytest.approx(5.4)]


def test_submit_writes_the_page_of_what_it_sent_beside_the_output(cli, tmp_path):
    out = tmp_path / "leads-sent.xlsx"
    run = cli("submit", LEADS_XLSX, OUTREACH, "-o", out, "--simulate", "--yes")
    page = tmp_path / "leads-sent.xlsx.review.html"
    assert f"Review page: {page}" in run.out
    data = page_data(page.read_text("utf-8"))
    assert data["meta"]["counts"] == {"submitted": 21, "invalid": 4}
    assert data["meta"]["spoken_rows"] == 21
    rows = {r["row"]: r for r in data["rows"]}
    assert rows[2]["payload"]["callback_id"] == rows[2]["key"]
    assert len(rows[2]["video_id"]) == 32
    assert rows[8]["problems"][0] == {
        "column": "speed",
        "message": "2 is above the maximum 1.5",
        "path": "video_inputs[0].voice.speed",
        "placeholder": "{{ speed }}",
    }


# ---- in a real Chromium, offline ----


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for this module, with a fresh profile and no network."""
    require_browser()
    with offline_browser(tmp_path_factory.mktemp("profile")) as context:
        yield context


@pytest.fixture
def open_page(browser):
    """Open a page file in a new tab; collect its errors and every request it makes."""
    opened = []

    def open_(path: Path, wait: bool = True):
        tab = browser.new_page()
        tab.errors, tab.requests = [], []
        tab.on("pageerror", lambda error: tab.errors.append(str(error)))
        tab.on(
            "console", lambda m: "Content Security Policy" in m.text and tab.errors.append(m.text)
        )
        tab.on("request", lambda request: tab.requests.append(request.url))
        tab.goto(path.as_uri(), wait_until="commit" if not wait else "load")
        if wait:
            tab.wait_for_selector("body[data-ready]")
        opened.append(tab)
        return tab

    yield open_
    for tab in opened:
        tab.close()


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample sheet's review page, as `render` writes it."""
    folder = tmp_path_factory.mktemp("sample")
    return render_to_folder(LEADS_XLSX, OUTREACH, folder).folder / "review.html"


def tiles(tab) -> dict[str, str]:
    """Read the summary's numbers by their labels."""
    found = tab.eval_on_selector_all(
        "#summary .tile", "ts => ts.map(t => [t.lastChild.textContent, t.firstChild.textContent])"
    )
    return dict(found)


def wait_matching(tab, count: int) -> None:
    """Wait until a filter has been applied and this many rows match it."""
    tab.wait_for_function("n => document.body.dataset.matching === n", arg=str(count))


def shown_rows(tab) -> list[int]:
    return [
        int(n) for n in tab.eval_on_selector_all("article.card", "cs => cs.map(c => c.dataset.row)")
    ]


def test_the_page_opens_from_the_file_with_no_network_and_shows_the_counts(open_page, sample_page):
    tab = open_page(sample_page)
    assert tiles(tab) == {
        "rows": "25",
        "valid": "21",
        "invalid": "4",
        "spoken, estimated": "≈ 3 min 36 s",
        "cost, estimated": "$9.18–$16.57",  # offline, each look's avatar type is not known
    }
    assert tab.text_content("article.card[data-row='2'] .cost") == "$0.40–$0.73"
    assert tab.locator("article.card[data-row='8'] .cost").count() == 0  # invalid: no price
    assert tab.text_content("#shown") == "showing 25 of 25 rows"
    assert tab.is_visible("article.card[data-row='2']")
    assert tab.errors == []  # no script error, and no content-security-policy violation
    assert all(url.startswith("file:") for url in tab.requests), tab.requests


def test_each_problem_sits_by_its_field_with_the_column(open_page, sample_page):
    tab = open_page(sample_page)
    field = tab.locator("article[data-row='18'] .field", has_text="colour")
    assert field.locator(".value").text_content() == "blue"
    assert 'column "background"' in field.locator(".problem").text_content()
    blank = tab.locator("article[data-row='13'] .field", has_text="voice")
    assert "is required but was left blank" in blank.first.text_content()


def test_filters_by_invalid_status_and_search(open_page, sample_page):
    tab = open_page(sample_page)
    tab.check("#invalid-only")
    assert shown_rows(tab) == [8, 13, 18, 23]
    tab.uncheck("#invalid-only")
    tab.select_option("#status", "valid")
    wait_matching(tab, 21)
    assert 8 not in shown_rows(tab)
    tab.select_option("#status", "")
    tab.fill("#search", "edinburgh")  # a word of one row's script
    wait_matching(tab, 1)
    assert shown_rows(tab) == [18]
    tab.fill("#search", "no such lead")
    wait_matching(tab, 0)
    assert tab.is_visible("#empty")
    tab.fill("#search", "")
    tab.click("button.tile.invalid")
    wait_matching(tab, 4)


def test_the_raw_body_is_one_click_away(open_page, sample_page):
    tab = open_page(sample_page)
    tab.click("article[data-row='2'] details.raw summary")
    raw = tab.text_content("article[data-row='2'] details.raw pre")
    assert json.loads(raw)["title"] == "Hello Ava from Northwind"


def test_spoken_text_shows_line_breaks_and_edge_spaces(open_page, tmp_path):
    page = ReviewPage("t")
    page.add(
        {
            "row": 2,
            "status": "valid",
            "payload": body(text_voice(0) | {"input_text": " Hi\nthere  "}),
        }
    )
    path = tmp_path / "review.html"
    path.write_text(page.html(), "utf-8")
    tab = open_page(path)
    assert tab.text_content(".script") == "·Hi↵\nthere··"


def synthetic_card(number: int) -> dict[str, Any]:
    """A lead's card like a real sheet's: one to three scenes, every tenth row invalid."""
    script = f"Hi Lead {number}! I saw that Company {number} is looking at analytics. " * 3
    scene = {
        "character": {"type": "avatar", "avatar_id": "Daisy-inskirt-20220818"},
        "voice": {
            "type": "text",
            "voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
            "input_text": script,
        },
        "background": {"type": "image", "url": f"https://example.com/{number}.png"},
    }
    payload = {"title": f"Hello Lead {number}", "video_inputs": [scene] * (1 + number % 3)}
    if number % 10:
        return {"row": number, "status": "valid", "payload": payload, "problems": []}
    problem = {"path": "video_inputs[0].voice.speed", "column": "speed", "message": "2 is too fast"}
    return {"row": number, "status": "invalid", "payload": payload, "problems": [problem]}


def test_ten_thousand_rows_are_usable_within_a_second(open_page, tmp_path):
    page = ReviewPage("big").add_all(synthetic_card(n) for n in range(2, 10_002))
    path = tmp_path / "review.html"
    path.write_text(page.html(), "utf-8")
    started = time.perf_counter()
    tab = open_page(path, wait=False)
    tab.wait_for_selector("article.card", state="visible")
    wall = time.perf_counter() - started
    first_card_ms = tab.evaluate("window.reviewTiming.firstCard")
    assert tab.locator("article.card").count() < 200  # drawn as they come into view
    started = time.perf_counter()
    tab.check("#invalid-only")
    wait_matching(tab, 1000)
    invalid_wall = time.perf_counter() - started
    invalid_ms = tab.evaluate("window.reviewTiming.lastFilterMs")
    tab.fill("#search", "lead 10000!")
    wait_matching(tab, 1)
    search_ms = tab.evaluate("window.reviewTiming.lastFilterMs")
    print(
        f"\n10,000 rows ({path.stat().st_size / 1e6:.1f} MB): first card {first_card_ms:.0f} ms"
        f" after navigation ({wall * 1000:.0f} ms by the test's clock); only invalid"
        f" {invalid_ms:.1f} ms ({invalid_wall * 1000:.0f} ms by the test's clock);"
        f" search {search_ms:.1f} ms"
    )
    assert first_card_ms < 1000
    assert invalid_ms < 250
    assert search_ms < 250
    assert tab.errors == []


def test_scrolling_draws_more_cards(open_page, tmp_path):
    page = ReviewPage("big").add_all(synthetic_card(n) for n in range(2, 502))
    path = tmp_path / "review.html"
    path.write_text(page.html(), "utf-8")
    tab = open_page(path)
    before = tab.locator("article.card").count()
    for _ in range(5):
        tab.mouse.wheel(0, 20_000)
        tab.wait_for_timeout(50)
    tab.wait_for_function("n => document.querySelectorAll('article.card').length > n", arg=before)


@pytest.mark.parametrize("policy", ["kept", "removed"])
def test_markup_in_a_cell_shows_as_text_and_runs_nothing(open_page, tmp_path, policy):
    attack = dict(zip(HEADER, lead(1), strict=True)) | ATTACKS
    data = write_csv(tmp_path / "leads.csv", [list(attack.values())])
    summary = render_to_folder(data, OUTREACH, tmp_path / "review")
    path = summary.folder / "review.html"
    if policy == "removed":  # the escaping alone must hold, without the page's script policy
        text = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", path.read_text())
        path.write_text(text, "utf-8")
    tab = open_page(path)
    tab.click("article.card details.raw summary")
    tab.wait_for_timeout(100)
    assert tab.evaluate("window.pwned") is None
    assert tab.locator("article.card img").count() == 0
    card = tab.text_content("article.card")
    assert "<script>window.pwned = 'script'</script>" in card
    assert "<img src=x onerror=\"window.pwned = 'img'\">" in card
    assert "<b>bold</b>" in card


def test_the_sample_page_screenshot_is_a_picture(open_page, sample_page, tmp_path):
    tab = open_page(sample_page)
    shot = tab.screenshot(path=str(tmp_path / "review.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(shot) > 20_000
    assert (ROOT / "docs" / "review.png").exists()


def test_a_v3_render_shows_what_each_scene_will_say(open_page, tmp_path):
    from merge.payload.row import Target
    from merge.review.offline import RenderOptions

    options = RenderOptions(target=Target("v3", engine="avatar_iii"))
    summary = render_to_folder(LEADS_XLSX, OUTREACH, tmp_path, options)
    tab = open_page(summary.folder / "review.html")
    assert tiles(tab)["spoken, estimated"] == "≈ 3 min 36 s"
    card = tab.locator("article[data-row='2']")
    assert "Hi Ava!" in card.text_content()
    assert "engine avatar_iii" in card.text_content()
    assert tab.errors == []


def test_a_local_picture_shows_as_an_offline_thumbnail(open_page, tmp_path):
    from PIL import Image

    from tests.test_uploads import TEMPLATE, media

    folder = tmp_path / "campaign"
    (folder / "photos").mkdir(parents=True)
    Image.new("RGB", (1600, 900), (200, 30, 40)).save(folder / "photos" / "anna.png")
    media(folder / "audio" / "hi.mp3", 1)
    (folder / "template.json").write_text(json.dumps(TEMPLATE), encoding="utf-8")
    sheet = folder / "leads.csv"
    sheet.write_text("name,photo,greeting\nAnna,photos/anna.png,audio/hi.mp3\n", encoding="utf-8")
    summary = render_to_folder(sheet, folder / "template.json", tmp_path / "review")
    assert summary.valid == 1
    tab = open_page(summary.folder / "review.html")
    card = tab.locator("article[data-row='2']")
    picture = card.locator(".local-file img")
    assert picture.count() == 1
    assert picture.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert tab.evaluate("(i) => [i.naturalWidth, i.naturalHeight]", picture.element_handle()) == [
        320,
        180,
    ]
    assert "photos/anna.png" in card.text_content()
    assert "audio/hi.mp3" in card.text_content()
    assert [url for url in tab.requests if not url.startswith(("file:", "data:"))] == []
    assert tab.errors == []


@pytest.fixture(scope="module")
def followed_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample sheet sent to a simulator where every fifth video fails, then followed."""
    from merge.cli.commands import main
    from merge.simulator import Simulator, SimulatorSettings

    folder = tmp_path_factory.mktemp("followed")
    out = folder / "leads-sent.xlsx"
    settings = SimulatorSettings(
        render_seconds=0.2, pending_seconds=0.0, render_failure=0.25, seed=5
    )
    with (
        pytest.MonkeyPatch.context() as patch,
        Simulator(settings) as api,
    ):
        patch.setenv("HEYGEN_API_KEY", "sk-page")
        sent = ("submit", LEADS_XLSX, OUTREACH, "-o", out, "--base-url", api.url, "--yes", "-q")
        assert main([str(a) for a in sent]) == 3
        time.sleep(0.5)
        follow = ("status", out, "--base-url", api.url, "--wait", "--poll", "0.1", "-q")
        main([*map(str, follow), "--download", str(folder / "videos")])
    return out.with_name(out.name + ".review.html")


def test_status_refreshes_the_page_with_each_video(followed_page: Path):
    data = page_data(followed_page.read_text("utf-8"))
    counts = data["meta"]["counts"]
    assert counts["invalid"] == 4
    assert counts["completed"] + counts["failed"] == 21
    assert counts["failed"] > 0
    rows = {r["row"]: r for r in data["rows"]}
    done = next(r for r in rows.values() if r["status"] == "completed")
    assert done["video"]["file"].startswith("videos/")
    assert done["video"]["thumbnail_url"].startswith("http://127.0.0.1:")
    assert isinstance(done["video"]["duration"], float)
    assert done["payload"]["script"]  # the v3 body submit sent is still there


def test_the_followed_page_shows_statuses_thumbnails_and_links(open_page, followed_page):
    from playwright.sync_api import expect

    tab = open_page(followed_page)
    assert tab.errors == []
    shown = tiles(tab)
    assert shown["invalid"] == "4"
    failed = int(shown["failed"])
    assert int(shown["completed"]) + failed == 21
    tab.select_option("#status", "completed")
    first = tab.locator("article.card").first
    # The filter redraws the list: wait for the drawn cards rather than read the old ones.
    expect(first.locator(".video .badge")).to_have_text("completed")
    # The downloaded thumbnail is asked for first; the simulator's are not real pictures, so
    # the page falls back to HeyGen's link, which this offline browser may not reach either.
    row = first.get_attribute("data-row")
    thumbnail = next(
        r["video"] for r in page_data(followed_page.read_text("utf-8"))["rows"]
        if str(r["row"]) == row
    )  # fmt: skip
    saved = (followed_page.parent / thumbnail["thumbnail_file"]).resolve().as_uri()
    tab.wait_for_function("() => document.querySelector('.video .thumb .muted') !== null")
    assert saved in tab.requests
    assert thumbnail["thumbnail_url"] in tab.requests
    watch = first.locator(".video a", has_text="watch the video")
    assert (watch.get_attribute("href") or "").startswith("http://127.0.0.1:")
    local = first.locator(".video a", has_text="downloaded file")
    href = local.get_attribute("href") or ""
    assert href.startswith("videos/")
    assert href.endswith(".mp4")
    target = (followed_page.parent / unquote(href)).resolve()
    assert target.exists()
    tab.select_option("#status", "failed")
    wait_matching(tab, failed)
    # As above: wait for the redrawn cards' note rather than read one mid-redraw.
    note = tab.locator("article.card .video .note.failed").first
    expect(note).to_have_text(re.compile(r"^failed: \S"))
    assert tab.errors == []  # no content-security-policy violation for the local thumbnail


def test_a_later_submit_keeps_what_status_knew_of_each_video(cli, tmp_path):
    out = tmp_path / "sent.xlsx"
    args = ("submit", LEADS_XLSX, OUTREACH, "-o", out, "--simulate", "--yes", "-q")
    cli(*args, "--limit", "3", "--wait", "--poll", "0.2")
    cli(*args, "--limit", "3")
    data = page_data((tmp_path / "sent.xlsx.review.html").read_text("utf-8"))
    videos = [row["video"] for row in data["rows"] if "video" in row]
    assert [video["status"] for video in videos] == ["completed"] * 3
    assert all(video["thumbnail_url"].startswith("http://127.0.0.1:") for video in videos)


def test_video_card_shows_the_gif_and_page_links_kept_in_the_journal():
    from merge.batch.journal import VideoState
    from merge.review.page import video_card

    links = {
        "gif_url": "https://x.test/a.gif",
        "video_page_url": "https://x.test/v/1",
        "subtitle_url": "s",
    }
    state = VideoState("v1", "completed", video_url="https://x.test/a.mp4", links=json.dumps(links))
    card = video_card(state)
    assert card["gif_url"] == "https://x.test/a.gif"
    assert card["video_page_url"] == "https://x.test/v/1"
    assert "subtitle_url" not in card
    assert "gif_url" not in video_card(VideoState("v2", "processing"))
