"""The demo image generator: the PNG encoder, the scene, the payload model, a full run."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib

import pytest

from jobqueue import JobQueue, PayloadInvalid
from jobqueue.demo import ImageRequest, generate_image, load_model
from jobqueue.demo.render import ImageModel, encode_png, seed_for
from jobqueue.worker import Worker


def decode_png(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and RGB pixels of an 8-bit RGB PNG, checking every chunk's CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks[kind] = data
        position += 12 + length
    width, height, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, color) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 3
    assert len(raw) == stride * height
    assert all(raw[row * stride] == 0 for row in range(height))
    pixels = b"".join(raw[row * stride + 1 : (row + 1) * stride] for row in range(height))
    assert b"IEND" in chunks
    return width, height, pixels


@pytest.fixture(scope="module")
def model() -> ImageModel:
    return ImageModel.load(step_seconds=0)


def test_encode_png_round_trips():
    pixels = bytes(range(256)) * 9  # 3 x 256 pixels
    assert decode_png(encode_png(256, 3, pixels)) == (256, 3, pixels)
    with pytest.raises(ValueError, match="expected"):
        encode_png(2, 2, b"\x00" * 11)


def test_a_prompt_and_seed_always_give_the_same_picture(model: ImageModel):
    def paint(prompt: str, seed: int) -> bytes:
        return model.scene(prompt, 64, 48, seed).render_rows(0, 48)

    assert paint("a sunset over the sea", 7) == paint("a sunset over the sea", 7)
    assert paint("a sunset over the sea", 7) != paint("a sunset over the sea", 8)
    assert len(paint("night", 1)) == 64 * 48 * 3
    assert seed_for("cat") == seed_for("cat") != seed_for("dog")


def test_prompt_words_choose_the_palette(model: ImageModel):
    assert model.scene("Stars at NIGHT!", 64, 64, 1).theme == "night"
    assert model.scene("lava flows", 64, 64, 1).theme == "fire"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"prompt": ""},
        {"prompt": "x" * 501},
        {"prompt": "ok", "width": 32},
        {"prompt": "ok", "height": 1000},
        {"prompt": 5},
        {"prompt": "ok", "seed": -1},
        {"prompt": "ok", "seed": False},  # what the schema calls an integer, strictly
        {"prompt": "ok", "width": "256"},
    ],
)
def test_bad_image_requests_are_refused_at_submit(payload: dict[str, str | int]):
    queue = JobQueue("memory://")
    queue.task(default=True)(generate_image)
    with pytest.raises(PayloadInvalid):
        queue.build(None, payload)


def test_integral_numbers_are_integers_as_in_json_schema():
    assert ImageRequest.model_validate({"prompt": "ok", "width": 96.0}).width == 96


async def test_a_worker_paints_the_picture_in_steps(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JOBQUEUE_DEMO_STEP_SECONDS", "0")
    queue = JobQueue("memory://")
    queue.task(default=True)(generate_image)
    queue.on_startup(load_model)
    async with queue:
        job = await queue.submit(None, {"prompt": "a forest at dusk", "width": 96, "height": 64})
        worker = Worker(queue, concurrency=1)
        running = asyncio.create_task(worker.run())
        try:
            done = await queue.wait(job.job_id, timeout=30)
        finally:
            worker.stop()
            await running

    assert done.status.value == "completed", done.error
    assert done.progress is not None
    assert (done.progress.current, done.progress.total) == (20, 20)
    result = done.result
    assert isinstance(result, dict)
    assert (result["width"], result["height"], result["prompt"]) == (96, 64, "a forest at dusk")
    assert result["seed"] == seed_for("a forest at dusk")
    prefix = "data:image/png;base64,"
    assert str(result["image"]).startswith(prefix)
    width, height, pixels = decode_png(base64.b64decode(str(result["image"])[len(prefix) :]))
    assert (width, height) == (96, 64)
    assert len({pixels[i : i + 3] for i in range(0, len(pixels), 3)}) > 50  # not blank


def test_the_request_has_defaults():
    assert ImageRequest.model_validate({"prompt": "p"}).width == 256
