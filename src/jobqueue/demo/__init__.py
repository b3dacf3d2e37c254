"""The demo application: an image generator, served by ``jobqueue demo``.

``generate_image`` takes a prompt and paints a PNG in about 20 progress steps over 5-10
seconds; each worker loads the "model" once, in a start-up hook (the cold start).
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from jobqueue.api.schemas import JSON_INTEGER
from jobqueue.context import JobContext  # noqa: TC001 (the task registry reads the hint)
from jobqueue.demo.render import ImageModel, encode_png, seed_for
from jobqueue.errors import ConfigError
from jobqueue.queue import JobQueue

if TYPE_CHECKING:
    from types import SimpleNamespace

STEPS = 20
STEP_SECONDS_VARIABLE = "JOBQUEUE_DEMO_STEP_SECONDS"
_PHASES = ("Sketching the composition", "Painting the sky", "Shaping the land", "Adding texture")

demo_queue = JobQueue()
"""The demo's queue, on the default store (``JOBQUEUE_STORE``, else SQLite)."""


class ImageRequest(BaseModel):
    """What to paint; validated strictly, so it accepts what its schema says and no more
    (``"256"`` or ``true`` is no integer, ``256.0`` is, as in JSON Schema).
    """

    model_config = ConfigDict(strict=True)

    prompt: str = Field(min_length=1, max_length=500, description="What the picture shows.")
    width: Annotated[int, JSON_INTEGER] = Field(256, ge=64, le=384, description="Pixels across.")
    height: Annotated[int, JSON_INTEGER] = Field(256, ge=64, le=384, description="Pixels down.")
    seed: Annotated[int, JSON_INTEGER] | None = Field(
        None, ge=0, le=2**32 - 1, description="Same prompt and seed, same picture."
    )


@demo_queue.on_startup
async def load_model(state: SimpleNamespace) -> None:
    """Load the image model once per worker (it takes about a second)."""
    raw = os.environ.get(STEP_SECONDS_VARIABLE, "0.3")
    try:
        step_seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{STEP_SECONDS_VARIABLE}={raw!r} is not a number") from None
    state.image_model = await asyncio.to_thread(ImageModel.load, step_seconds)


@demo_queue.task(default=True, timeout=120)
async def generate_image(request: ImageRequest, ctx: JobContext) -> dict[str, Any]:
    """Paint the picture the prompt describes; the result is a data: URL a browser can show."""
    model: ImageModel = ctx.state.image_model
    seed = seed_for(request.prompt) if request.seed is None else request.seed
    scene = model.scene(request.prompt, request.width, request.height, seed)
    await ctx.progress(0, STEPS, f"Reading the prompt ({scene.theme} palette)")
    pixels = bytearray()
    for step in range(STEPS):
        start, stop = step * request.height // STEPS, (step + 1) * request.height // STEPS
        pixels += await asyncio.to_thread(scene.render_rows, start, stop)
        phase = _PHASES[step * len(_PHASES) // STEPS]
        await ctx.progress(step + 1, STEPS, f"{phase}: row {stop} of {request.height}")
        await asyncio.sleep(model.step_seconds)
    png = encode_png(request.width, request.height, bytes(pixels))
    return {
        "image": "data:image/png;base64," + base64.b64encode(png).decode(),
        "width": request.width,
        "height": request.height,
        "prompt": request.prompt,
        "seed": seed,
    }
