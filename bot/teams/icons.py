"""The Teams app's icons, drawn here with the standard library: two speech bubbles, a discussion.

- colour: 192 x 192, the symbol in white on the accent colour
- outline: 32 x 32, the symbol in white on a transparent background (Teams' rule for outline icons)

`python -m bot.teams.icons` writes both into manifest/teams/; the package command uses those files.
"""

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

ACCENT = (31, 92, 153, 255)  # #1F5C99, also the manifest's accentColor
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)
SAMPLES = 4  # per pixel side: 16 samples smooth the edges

Shape = Callable[[float, float], bool]  # is the point (x, y), in 0..1 units, inside?


def rounded_box(x0: float, y0: float, x1: float, y1: float, r: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return False
        cx = min(max(x, x0 + r), x1 - r)
        cy = min(max(y, y0 + r), y1 - r)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

    return inside


def triangle(a: tuple, b: tuple, c: tuple) -> Shape:
    def side(p, q, x, y):
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    def inside(x: float, y: float) -> bool:
        s = (side(a, b, x, y), side(b, c, x, y), side(c, a, x, y))
        return all(v >= 0 for v in s) or all(v <= 0 for v in s)

    return inside


def disc(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def union(*shapes: Shape) -> Shape:
    return lambda x, y: any(s(x, y) for s in shapes)


def minus(shape: Shape, *holes: Shape) -> Shape:
    return lambda x, y: shape(x, y) and not any(h(x, y) for h in holes)


def symbol(margin: float) -> list[tuple[tuple, Shape]]:
    """Two speech bubbles, the front one with three dots; `margin` keeps it inside the safe area."""
    m, span = margin, 1 - 2 * margin

    def at(x: float, y: float) -> tuple[float, float]:
        return m + x * span, m + y * span

    def box(x0, y0, x1, y1, r):
        (ax, ay), (bx, by) = at(x0, y0), at(x1, y1)
        return rounded_box(ax, ay, bx, by, r * span)

    back = union(box(0.00, 0.02, 0.66, 0.50, 0.12), triangle(at(0.10, 0.46), at(0.28, 0.46), at(0.06, 0.66)))
    front = union(box(0.30, 0.34, 1.00, 0.84, 0.12), triangle(at(0.70, 0.80), at(0.90, 0.80), at(0.96, 1.00)))
    dots = [disc(*at(x, 0.59), 0.055 * span) for x in (0.47, 0.65, 0.83)]
    gap = union(box(0.26, 0.30, 1.04, 0.88, 0.14), triangle(at(0.66, 0.76), at(0.94, 0.76), at(1.0, 1.04)))
    return [(WHITE, minus(back, gap)), (WHITE, minus(front, *dots))]


def draw(size: int, background: tuple, shapes: list[tuple[tuple, Shape]]) -> bytes:
    """RGBA rows, each shape painted over the last with its coverage as alpha."""
    rows = bytearray()
    step = 1 / (size * SAMPLES)
    for py in range(size):
        rows.append(0)  # PNG filter: none
        for px in range(size):
            pixel = list(background)
            for colour, inside in shapes:
                pixel = _over(colour, _coverage(inside, px, py, size, step), pixel)
            rows.extend(pixel)
    return png(size, size, bytes(rows))


def _coverage(inside: Shape, px: int, py: int, size: int, step: float) -> float:
    """How much of the pixel the shape covers; sampled finely only where an edge crosses it."""
    corners = {
        inside(px / size, py / size),
        inside((px + 1) / size, py / size),
        inside(px / size, (py + 1) / size),
        inside((px + 1) / size, (py + 1) / size),
        inside((px + 0.5) / size, (py + 0.5) / size),
    }
    if len(corners) == 1:
        return 1.0 if corners.pop() else 0.0
    hits = sum(
        inside((px * SAMPLES + sx + 0.5) * step, (py * SAMPLES + sy + 0.5) * step)
        for sy in range(SAMPLES)
        for sx in range(SAMPLES)
    )
    return hits / SAMPLES**2


def _over(colour: tuple, coverage: float, under: list) -> list:
    alpha = colour[3] / 255 * coverage
    out_a = alpha + under[3] / 255 * (1 - alpha)
    if out_a == 0:
        return [0, 0, 0, 0]
    rgb = [round((colour[i] * alpha + under[i] * under[3] / 255 * (1 - alpha)) / out_a) for i in range(3)]
    return [*rgb, round(out_a * 255)]


def png(width: int, height: int, raw_rows: bytes) -> bytes:
    """An 8-bit RGBA PNG from filtered rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw_rows, 9))
        + chunk(b"IEND", b"")
    )


def colour_icon() -> bytes:
    return draw(192, ACCENT, symbol(margin=0.25))


def outline_icon() -> bytes:
    return draw(32, CLEAR, symbol(margin=0.06))


def write(folder: Path) -> None:
    (folder / "color.png").write_bytes(colour_icon())
    (folder / "outline.png").write_bytes(outline_icon())


if __name__ == "__main__":
    write(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "manifest" / "teams"
    )
