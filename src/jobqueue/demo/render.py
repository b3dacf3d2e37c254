"""A toy "image model": paints a landscape from a prompt, procedurally, and encodes it as PNG.

`ImageModel.load` stands in for loading weights (it precomputes a noise texture and
the palettes, about a second of work, once per worker); `Scene` paints rows of pixels
so the task can report progress band by band; `encode_png` needs only zlib and struct.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
import zlib
from dataclasses import dataclass

RGB = tuple[int, int, int]

#: Palettes as (sky top, sky horizon, sun, far land, near land); chosen by prompt words.
PALETTES: dict[str, tuple[RGB, RGB, RGB, RGB, RGB]] = {
    "sunset": ((44, 30, 84), (250, 140, 90), (255, 220, 140), (120, 60, 90), (50, 25, 50)),
    "ocean": ((20, 60, 130), (140, 200, 230), (255, 250, 220), (30, 100, 150), (10, 50, 90)),
    "forest": ((90, 150, 200), (200, 230, 210), (255, 245, 200), (60, 120, 70), (20, 60, 35)),
    "night": ((5, 5, 25), (40, 40, 90), (235, 235, 255), (30, 30, 60), (10, 10, 25)),
    "fire": ((60, 10, 10), (240, 110, 30), (255, 230, 120), (110, 30, 20), (40, 10, 10)),
    "desert": ((120, 170, 220), (250, 220, 170), (255, 250, 230), (210, 150, 90), (160, 100, 60)),
    "snow": ((150, 180, 220), (235, 240, 250), (255, 255, 255), (190, 200, 220), (120, 130, 160)),
    "candy": ((120, 80, 200), (255, 170, 210), (255, 250, 200), (200, 100, 170), (130, 50, 120)),
}
KEYWORDS: dict[str, str] = {
    "sunset": "sunset", "dusk": "sunset", "evening": "sunset", "autumn": "sunset",
    "ocean": "ocean", "sea": "ocean", "water": "ocean", "lake": "ocean", "beach": "ocean",
    "forest": "forest", "tree": "forest", "green": "forest", "spring": "forest",
    "night": "night", "space": "night", "star": "night", "moon": "night", "galaxy": "night",
    "fire": "fire", "lava": "fire", "volcano": "fire", "dragon": "fire", "red": "fire",
    "desert": "desert", "sand": "desert", "dune": "desert", "mars": "desert",
    "snow": "snow", "ice": "snow", "winter": "snow", "mountain": "snow", "frozen": "snow",
    "candy": "candy", "pink": "candy", "dream": "candy", "unicorn": "candy", "cat": "candy",
}  # fmt: skip
TILE = 384
#: The cloud texture's octaves: (lattice cells across the tile, weight).
CLOUD_OCTAVES = ((6, 1.0), (12, 0.5), (24, 0.25), (48, 0.125), (96, 0.06))


def _lerp(a: RGB, b: RGB, t: float) -> RGB:
    return (
        int(a[0] + (b[0] - a[0]) * t),
        int(a[1] + (b[1] - a[1]) * t),
        int(a[2] + (b[2] - a[2]) * t),
    )


def _cell(position: float) -> tuple[int, float]:
    """The lattice cell *position* falls in, and its smoothstep weight within the cell."""
    cell = int(position)
    t = position - cell
    return cell, t * t * (3 - 2 * t)


def _value_noise(rng: random.Random, size: int, cells: int) -> list[list[float]]:
    """A tileable size-by-size grid of smoothly interpolated random values in [0, 1]."""
    lattice = [[rng.random() for _ in range(cells)] for _ in range(cells)]
    scale = cells / size
    grid = []
    for y in range(size):
        y0, ty = _cell(y * scale)
        row0, row1 = lattice[y0 % cells], lattice[(y0 + 1) % cells]
        row = []
        for x in range(size):
            x0, tx = _cell(x * scale)
            x1 = (x0 + 1) % cells
            top = row0[x0 % cells] + (row0[x1] - row0[x0 % cells]) * tx
            bottom = row1[x0 % cells] + (row1[x1] - row1[x0 % cells]) * tx
            row.append(top + (bottom - top) * ty)
        grid.append(row)
    return grid


@dataclass(frozen=True, slots=True)
class ImageModel:
    """What the worker's start-up hook loads once: a cloud texture, and the pacing."""

    clouds: list[list[float]]
    step_seconds: float = 0.3
    """The pause after each of the ~20 steps, so a job takes a few seconds, like a model."""

    @classmethod
    def load(cls, step_seconds: float = 0.3) -> ImageModel:
        """Precompute the texture (fractal noise, several octaves): the cold start."""
        rng = random.Random(20261129)
        octaves = [(_value_noise(rng, TILE, cells), weight) for cells, weight in CLOUD_OCTAVES]
        total = sum(weight for _, weight in octaves)
        clouds = [
            [sum(grid[y][x] * weight for grid, weight in octaves) / total for x in range(TILE)]
            for y in range(TILE)
        ]
        return cls(clouds=clouds, step_seconds=step_seconds)

    def scene(self, prompt: str, width: int, height: int, seed: int) -> Scene:
        """The picture *prompt* and *seed* describe (the same inputs give the same image)."""
        words = [w.strip(".,!?;:'\"").rstrip("s") for w in prompt.lower().split()]
        rng = random.Random(seed)
        themes = [KEYWORDS[w] for w in words if w in KEYWORDS]
        theme = themes[0] if themes else sorted(PALETTES)[seed % len(PALETTES)]
        horizon = int(height * rng.uniform(0.45, 0.65))
        ridges = []
        for layer in range(3):
            base = horizon + layer * height * 0.1
            amplitude = height * rng.uniform(0.06, 0.16) / (layer + 1)
            frequency = rng.uniform(1.5, 4.0) * (layer + 1) / width
            phase = rng.uniform(0, 2 * math.pi)
            ridges.append(
                [
                    int(
                        base
                        - amplitude * math.sin(x * frequency * 2 * math.pi + phase)
                        - amplitude * 0.5 * math.sin(x * frequency * 5.3 + phase * 2)
                    )
                    for x in range(width)
                ]
            )
        return Scene(
            model=self,
            width=width,
            height=height,
            palette=PALETTES[theme],
            theme=theme,
            sun=(rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.4) * height),
            sun_radius=min(width, height) * rng.uniform(0.05, 0.1),
            cloud_offset=(rng.randrange(TILE), rng.randrange(TILE)),
            cloud_cover=rng.uniform(0.45, 0.6),
            ridges=ridges,
            has_stars=theme == "night",
            seed=seed,
        )


@dataclass(frozen=True, slots=True)
class Scene:
    """A planned picture, painted a band of rows at a time."""

    model: ImageModel
    width: int
    height: int
    palette: tuple[RGB, RGB, RGB, RGB, RGB]
    theme: str
    sun: tuple[float, float]
    sun_radius: float
    cloud_offset: tuple[int, int]
    cloud_cover: float
    ridges: list[list[int]]
    has_stars: bool
    seed: int

    def render_rows(self, start: int, stop: int) -> bytes:
        """RGB bytes of rows ``start`` to ``stop`` (exclusive)."""
        sky_top, sky_low, sun_color, far, near = self.palette
        layer_colors = [_lerp(far, near, i / 2) for i in range(3)]
        clouds, (ox, oy) = self.model.clouds, self.cloud_offset
        sx, sy = self.sun
        glow = self.sun_radius * 3
        out = bytearray()
        for y in range(start, stop):
            sky = _lerp(sky_top, sky_low, min(y / (self.height * 0.65), 1.0))
            cloud_row = clouds[(y * 2 + oy) % TILE]
            for x in range(self.width):
                color = sky
                distance = math.hypot(x - sx, y - sy)
                if distance < self.sun_radius:
                    color = sun_color
                elif distance < glow:
                    color = _lerp(color, sun_color, 0.5 * (1 - distance / glow) ** 2)
                elif self.has_stars and ((x * 73856093) ^ (y * 19349663) ^ self.seed) % 241 == 0:
                    color = (255, 255, 240)
                cover = cloud_row[(x + ox) % TILE] - self.cloud_cover
                if cover > 0:
                    color = _lerp(color, (250, 250, 255), min(cover * 3, 0.85))
                for layer in (2, 1, 0):
                    top = self.ridges[layer][x]
                    if y >= top:
                        depth = min((y - top) / self.height * 2, 0.6)
                        shade = _lerp(layer_colors[layer], (0, 0, 0), depth)
                        grain = cloud_row[(x * 3 + layer * 50) % TILE] * 0.15
                        color = _lerp(shade, sky_low, grain * (2 - layer) / 2)
                        break
                out += bytes(color)
        return bytes(out)


def seed_for(prompt: str) -> int:
    """The seed a prompt gives when none is chosen."""
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit RGB PNG of *rgb* (rows top to bottom, 3 bytes a pixel)."""
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"expected {stride * height} bytes of pixels, got {len(rgb)}")
    scanlines = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines, 6))
        + chunk(b"IEND", b"")
    )
