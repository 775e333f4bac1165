"""Local files in media fields: which fields, which values, what is checked, what is written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from merge.payload.media import MediaFiles, sniff, token_of, tokens_in
from tests.test_uploads import HEADS, media


def token(path: Path) -> str:
    return token_of(hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("photos/anna.jpg", "photos/logo.png", "audio/hi.mp3", "audio/hi.wav"):
        media(tmp_path / name, len(name))
    clip = tmp_path / "clips" / "loop.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return tmp_path


def v2_scene(**parts: Any) -> dict[str, Any]:
    return {"video_inputs": [{"character": {"type": "avatar", "avatar_id": "a"}, **parts}]}


def test_v2_media_fields_take_their_asset_field(folder: Path) -> None:
    body = v2_scene(
        voice={"type": "audio", "audio_url": "audio/hi.mp3"},
        background={"type": "image", "url": "photos/anna.jpg", "fit": "cover"},
    )
    found = MediaFiles(folder, "v2").localise(body)
    assert found.problems == []
    scene = body["video_inputs"][0]
    assert scene["voice"] == {"type": "audio", "audio_asset_id": token(folder / "audio/hi.mp3")}
    picture = token(folder / "photos/anna.jpg")
    assert scene["background"] == {"type": "image", "fit": "cover", "image_asset_id": picture}
    assert set(found.files) == {picture, token(folder / "audio/hi.mp3")}
    assert found.files[picture].shown == "photos/anna.jpg"

    clip = v2_scene(background={"type": "video", "url": str(folder / "clips/loop.mp4")})
    assert MediaFiles(folder, "v2").localise(clip).problems == []
    assert clip["video_inputs"][0]["background"] == {
        "type": "video",
        "video_asset_id": token(folder / "clips/loop.mp4"),
    }


def test_urls_and_real_asset_ids_are_left_alone(folder: Path) -> None:
    body = v2_scene(
        voice={"type": "audio", "audio_asset_id": "f3b9c0a1e2d34c5b"},
        background={"type": "image", "url": "HTTPS://example.com/anna.jpg"},
    )
    before = repr(body)
    found = MediaFiles(folder, "v2").localise(body)
    assert (found.files, found.problems, repr(body)) == ({}, [], before)


def test_an_asset_id_field_holding_a_path_is_a_local_file(folder: Path) -> None:
    body = v2_scene(background={"type": "image", "image_asset_id": "photos/logo.png"})
    assert MediaFiles(folder, "v2").localise(body).problems == []
    assert body["video_inputs"][0]["background"]["image_asset_id"] == token(
        folder / "photos/logo.png"
    )


def test_v3_asset_inputs_backgrounds_and_scene_sources(folder: Path) -> None:
    body: dict[str, Any] = {
        "type": "studio",
        "scenes": [
            {"type": "image", "source": {"type": "url", "url": "photos/logo.png"}, "duration": 3},
            {"type": "video", "source": {"type": "url", "url": "clips/loop.mp4"}},
            {"type": "avatar_video", "input": {"type": "avatar", "audio_url": "audio/hi.wav"}},
        ],
        "watermark": {"image": {"type": "url", "url": "https://example.com/w.png"}},
    }
    found = MediaFiles(folder, "v3").localise(body)
    assert found.problems == []
    scenes = body["scenes"]
    logo = token(folder / "photos/logo.png")
    assert scenes[0]["source"] == {"type": "asset_id", "asset_id": logo}
    assert scenes[1]["source"]["asset_id"] == token(folder / "clips/loop.mp4")
    assert scenes[2]["input"]["audio_asset_id"] == token(folder / "audio/hi.wav")
    assert body["watermark"] == {"image": {"type": "url", "url": "https://example.com/w.png"}}

    avatar = {"type": "image", "image": {"type": "url", "url": "photos/anna.jpg"}}
    avatar["background"] = {"type": "image", "url": "photos/logo.png"}
    assert MediaFiles(folder, "v3").localise(avatar).problems == []
    assert avatar["background"] == {"type": "image", "asset_id": logo}
    assert avatar["image"] == {"type": "asset_id", "asset_id": token(folder / "photos/anna.jpg")}


@pytest.mark.parametrize(
    ("value", "api", "said"),
    [
        ("photos/nobody.jpg", "v3", '"photos/nobody.jpg": not a URL and no such file'),
        ("ftp://example.com/a.jpg", "v3", "not a URL and no such file"),
        ("photos", "v3", "is a folder, not a file"),
        ("audio/hi.mp3", "v3", "is a recording, but this field takes a picture (png, jpeg)"),
        ("clips/loop.mp4", "v3", "is a video, but this field takes a picture"),
        (r"C:\Users\anna\photo.jpg", "v3", "is a Windows path, which this computer cannot open"),
        (r"\\server\share\photo.jpg", "v3", "is a Windows path"),
    ],
)
def test_what_is_not_a_usable_picture_is_said(
    folder: Path, value: str, api: str, said: str
) -> None:
    body = v2_scene(background={"type": "image", "url": value})
    found = MediaFiles(folder, api).localise(body)
    assert [p.path for p in found.problems] == ["video_inputs[0].background.url"]
    assert said in found.problems[0].message
    assert body["video_inputs"][0]["background"]["url"] == value  # left as it was


def test_file_contents_are_checked(folder: Path) -> None:
    (folder / "empty.png").write_bytes(b"")
    (folder / "renamed.png").write_bytes(HEADS[".jpg"] + bytes(10))
    (folder / "text.png").write_bytes(b"not a picture at all")
    (folder / "noext").write_bytes(HEADS[".png"])
    said = {
        "empty.png": "is empty",
        "renamed.png": "is named .png but holds a .jpg file: rename it to match",
        "text.png": "does not hold what its name says (.png)",
        "noext": "is a file without an extension; uploads take png, jpeg, mp4, webm, mp3, wav",
    }
    for name, message in said.items():
        found = MediaFiles(folder).localise(v2_scene(background={"type": "image", "url": name}))
        assert message in found.problems[0].message, name


def test_v2_takes_no_wav(folder: Path) -> None:
    body = v2_scene(voice={"type": "audio", "audio_url": "audio/hi.wav"})
    problems = MediaFiles(folder, "v2").localise(body).problems
    assert "is a .wav file; uploads take png, jpeg, mp4, webm, mp3 files" in problems[0].message


def test_windows_relative_paths_file_urls_and_spaces_find_the_file(folder: Path) -> None:
    media(folder / "my photos" / "Ånna 🙂.png", 9)
    wanted = token(folder / "my photos" / "Ånna 🙂.png")
    for value in (
        r"my photos\Ånna 🙂.png",
        " my photos/Ånna 🙂.png ",
        (folder / "my photos" / "Ånna 🙂.png").as_uri(),
    ):
        body = v2_scene(background={"type": "image", "url": value})
        assert MediaFiles(folder).localise(body).problems == [], value
        assert body["video_inputs"][0]["background"]["image_asset_id"] == wanted


def test_each_file_is_read_once_per_run_until_it_changes(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = MediaFiles(folder)
    reads: list[Path] = []
    inspect = files._inspect

    def counted(value: str, path: Path, size: int) -> Any:
        reads.append(path)
        return inspect(value, path, size)

    monkeypatch.setattr(files, "_inspect", counted)
    for _ in range(500):
        files.localise(v2_scene(background={"type": "image", "url": "photos/anna.jpg"}))
    assert len(reads) == 1
    photo = folder / "photos/anna.jpg"
    photo.write_bytes(HEADS[".jpg"] + b"a new picture")
    os.utime(photo, ns=(1, 1))
    body = v2_scene(background={"type": "image", "url": "photos/anna.jpg"})
    files.localise(body)
    assert len(reads) == 2
    assert tokens_in(repr(body).encode()) == [token(photo)]


@pytest.mark.parametrize(("suffix", "mime"), [(".png", "image/png"), (".mp3", "audio/mpeg")])
def test_sniff_reads_heads(suffix: str, mime: str) -> None:
    assert sniff(HEADS[suffix] + bytes(20)) == mime
    assert sniff(b"GIF89a") is None


def test_an_unreadable_file_says_so(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def locked(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "anna.jpg":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", locked)  # root reads anything, so chmod cannot show it
    body = v2_scene(background={"type": "image", "url": "photos/anna.jpg"})
    problems = MediaFiles(folder).localise(body).problems
    assert problems[0].message == '"photos/anna.jpg": cannot be read (Permission denied)'
