"""The page of what a submit run sent, beside its output: each row's body and its final cells."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from merge.batch.plan import Plan
from merge.review.folder import page_title, write_page
from merge.review.page import SUBMIT, ReviewPage, sent_cards
from merge.review.thumbs import add_files
from merge.settings import SENT_PAGE_SUFFIX


def sent_page_path(output: Path) -> Path:
    """Place the page of what `submit` sent beside its output: leads-sent.xlsx.review.html."""
    return output.with_name(output.name + SENT_PAGE_SUFFIX)


def write_sent_page(plan: Plan, warn: Callable[[str], None]) -> None:
    """Write the page of what a submit run sent, from each row's body and its final cells."""
    bodies = {job.row: job.body for job in (*plan.check, *plan.send)}
    page = ReviewPage(
        f"Sent: {page_title(plan.info)}",
        f"what avatar-merge submit sent to {plan.journal.meta('target')}, and the answers",
        SUBMIT,
        f"every row is in {plan.output.name}.",
    )
    if plan.files:
        assets = plan.journal.assets()
        uploaded = {f.sha256: f for f in plan.files.values()}
        add_files(
            page,
            {
                a.asset_id: uploaded[a.sha256]
                for a in assets.values()
                if a.asset_id and a.sha256 in uploaded
            },
        )
    path = sent_page_path(plan.output)
    try:
        write_page(path, page.add_all(sent_cards(plan.ledger.values, bodies, plan.ledger.problems)))
    except OSError as error:
        warn(f"{path}: the review page could not be written ({error.strerror})")
