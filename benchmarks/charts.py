"""Horizontal bar charts as PNG, drawn with PIL (matplotlib is not a dependency of the project)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def bar_chart(
    bars: Sequence[tuple[str, float, str]],
    title: str,
    subtitle: str,
    path: Path,
    colour_keys: Sequence[str] | None = None,
    log_scale: bool = False,
) -> None:
    """One bar per ``(label, value, annotation)``; ``colour_keys[i]`` picks bar i's colour (same key, same
    colour); ``log_scale`` sizes bars by log10(value) (for values spanning orders of magnitude)."""
    from PIL import Image, ImageDraw

    keys = list(colour_keys) if colour_keys is not None else [label for label, _, _ in bars]
    colours = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(dict.fromkeys(keys))}
    width, left, right, top, bar_h, gap = 1100, 300, 330, 84, 30, 12
    height = top + len(bars) * (bar_h + gap) + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 14), title, fill="black", font=_font(20))
    draw.text((20, 46), subtitle, fill=(90, 90, 90), font=_font(13))
    values = [v for _, v, _ in bars if v > 0]
    low = min(values, default=1.0)
    high = max(values, default=1.0)

    def length(value: float) -> int:
        span = width - left - right
        if value <= 0:
            return 1
        if log_scale:
            floor = math.log10(low) - 0.3
            return max(1, round(span * (math.log10(value) - floor) / (math.log10(high) - floor)))
        return max(1, round(span * value / high))

    for i, ((label, value, note), key) in enumerate(zip(bars, keys)):
        y = top + i * (bar_h + gap)
        draw.text((20, y + bar_h // 2), label, fill="black", font=_font(14), anchor="lm")
        size = length(value)
        draw.rectangle([left, y, left + size, y + bar_h], fill=colours[key])
        draw.text((left + size + 8, y + bar_h // 2), note, fill="black", font=_font(13), anchor="lm")
    draw.line([left, top - 6, left, top + len(bars) * (bar_h + gap) - gap // 2], fill="black", width=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
