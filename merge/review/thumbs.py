"""Small offline pictures of the local files rows name, for the review page.

A picture becomes a JPEG of at most REVIEW_THUMB_PIXELS on its longest side, inlined in the page
as a `data:` URL (a few KB each, made once per file, for the first REVIEW_THUMB_FILES files), so
the page shows it with no network and no file beside it. Recordings and clips are named, not
previewed.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

from merge.payload.media import LocalFile
from merge.review.page import ReviewPage
from merge.settings import REVIEW_THUMB_FILES, REVIEW_THUMB_PIXELS

PICTURES = frozenset({"image/png", "image/jpeg"})


def thumbnail(file: LocalFile) -> str | None:
    """Return a picture's thumbnail as a data URL; None for other media or an unreadable one."""
    if file.mime not in PICTURES:
        return None
    from PIL import Image, UnidentifiedImageError  # only when a sheet names a picture

    try:
        with Image.open(file.path) as image:
            image.draft("RGB", (REVIEW_THUMB_PIXELS, REVIEW_THUMB_PIXELS))  # JPEG: decode small
            image.thumbnail((REVIEW_THUMB_PIXELS, REVIEW_THUMB_PIXELS))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=75)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def add_files(page: ReviewPage, files: Mapping[str, LocalFile]) -> None:
    """Tell the page which local file each asset reference stands for, with its thumbnail."""
    for reference, file in files.items():
        if reference not in page.media:
            room = len(page.media) < REVIEW_THUMB_FILES
            page.media[reference] = {
                "name": file.shown,
                "size": file.size,
                "mime": file.mime,
                "thumb": thumbnail(file) if room else None,
            }
