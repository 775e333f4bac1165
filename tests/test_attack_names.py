"""Attack: callback_ids that look alike once made safe must not share a download file."""

from __future__ import annotations

import re

from merge.follow.download import file_stem

KEYS = ["x/1", "x_1", "x 1", "x:1", "田中-1", "鈴木-1", "X_1", "row-2", "..", "/", "a" * 300]


def test_every_key_gets_a_file_name_of_its_own() -> None:
    stems = [file_stem(key, number) for number, key in enumerate(KEYS, start=2)]
    stems += [file_stem(None, 2), file_stem("", 3)]
    assert len({stem.lower() for stem in stems}) == len(stems), stems
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,140}", stem) for stem in stems), stems
    assert not any(stem.startswith(".") for stem in stems)


def test_plain_keys_keep_their_own_name() -> None:
    assert file_stem("am-1a2b3c4d-row-2", 2) == "am-1a2b3c4d-row-2"
    assert file_stem("lead7@example.com", 2).startswith("lead7_example.com-")
    assert file_stem(None, 9) == "row-9"
