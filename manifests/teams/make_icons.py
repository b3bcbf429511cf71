"""Draw the Teams app icons (color.png 192x192, outline.png 32x32) with only zlib and struct.

Run `python manifests/teams/make_icons.py` after changing the drawing; the PNGs are committed and a
test checks they match this script's output.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
Pixel = tuple[int, int, int, int]
BRAND: Pixel = (0x1F, 0x5A, 0xA6, 255)  # also the manifest's accentColor
WHITE: Pixel = (255, 255, 255, 255)
CLEAR: Pixel = (0, 0, 0, 0)


def png(width: int, height: int, pixel: Callable[[float, float], Pixel]) -> bytes:
    """An RGBA PNG whose pixel at (x, y) in [0, 1) coordinates is pixel(x, y)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "None" for every scanline
        for x in range(width):
            rows.extend(pixel((x + 0.5) / width, (y + 0.5) / height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def glyph(x: float, y: float) -> bool:
    """A wrench-like mark: a ring with a handle running to the lower left."""
    cx, cy = 0.6, 0.4
    r2 = (x - cx) ** 2 + (y - cy) ** 2
    ring = 0.17**2 <= r2 <= 0.27**2 and not (x > cx and y < cy and abs((x - cx) + (y - cy)) < 0.07)
    # Handle: a thick segment along the diagonal from the ring towards (0.2, 0.8).
    t = ((x - cx) * -1 + (y - cy) * 1) / 2**0.5
    d = abs((x - cx) + (y - cy)) / 2**0.5
    handle = 0.2 <= t <= 0.56 and d <= 0.075
    return ring or handle


def color_pixel(x: float, y: float) -> Pixel:
    """Full-bleed brand background with the white glyph."""
    return WHITE if glyph(x, y) else BRAND


def outline_pixel(x: float, y: float) -> Pixel:
    """White glyph on a transparent background, as Teams requires for outline icons."""
    return WHITE if glyph(x, y) else CLEAR


def icons() -> dict[str, bytes]:
    """File name -> PNG bytes of every icon."""
    return {"color.png": png(192, 192, color_pixel), "outline.png": png(32, 32, outline_pixel)}


def main() -> None:
    """Write the icons next to this script."""
    for name, data in icons().items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
