"""Small inline SVG charts for the offline report: no script, no network, readable in any browser.

Values are drawn to scale from zero; a missing value (None) leaves a gap. Every chart carries a ``<title>``
per point, so a reader sees the exact figure on hover.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 720, 220, 40
COLOURS = ("#3b6ea5", "#d98c1f", "#5a9e4b", "#a54b6e")


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float]]) -> str:
    """Grouped bars, one group per label (a day), one bar per series."""
    top = max([v for values in series.values() for v in values] + [1.0])
    group = (WIDTH - 2 * PAD) / max(len(labels), 1)
    width = group * 0.8 / max(len(series), 1)
    shapes = []
    for s, (name, values) in enumerate(series.items()):
        for i, value in enumerate(values):
            h = (HEIGHT - 2 * PAD) * value / top
            x, y = PAD + i * group + s * width, HEIGHT - PAD - h
            shapes.append(_rect(x, y, width, h, COLOURS[s % len(COLOURS)], f"{labels[i]} {name}: {value:g}"))
    return _svg(title, top, labels, shapes, list(series))


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *, unit: float = 60.0) -> str:
    """Lines through the points (values in seconds, drawn in ``unit``: minutes by default); None is a gap."""
    scaled = {name: [None if v is None else v / unit for v in values] for name, values in series.items()}
    top = max([v for values in scaled.values() for v in values if v is not None] + [1.0])
    step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)
    shapes = []
    for s, (name, values) in enumerate(scaled.items()):
        colour = COLOURS[s % len(COLOURS)]
        points = [(PAD + i * step, HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top, v, i) for i, v in enumerate(values)
                  if v is not None]  # fmt: skip
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        shapes.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        shapes += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(labels[i])} {escape(name)}: '
            f"{v:.1f} min</title></circle>"
            for x, y, v, i in points
        ]
    return _svg(title, top, labels, shapes, list(series))


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}">'
            f"<title>{escape(tip)}</title></rect>")  # fmt: skip


def _svg(title: str, top: float, labels: Sequence[str], shapes: list[str], names: list[str]) -> str:
    """The frame: title, axes, the top value, first and last labels, a legend."""
    legend = "".join(
        f'<text x="{PAD + 150 * i}" y="{HEIGHT - 8}" fill="{COLOURS[i % len(COLOURS)]}">■ {escape(n)}</text>'
        for i, n in enumerate(names)
    )
    ends = f'<text x="{PAD}" y="{HEIGHT - PAD + 14}">{escape(labels[0])}</text>' if labels else ""
    if len(labels) > 1:
        ends += f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 14}" text-anchor="end">{escape(labels[-1])}</text>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-size="11" font-family="sans-serif"><title>{escape(title)}</title>'
        f'<text x="{PAD}" y="16" font-weight="bold">{escape(title)}</text>'
        f'<text x="{PAD - 4}" y="{PAD}" text-anchor="end">{top:g}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>'
        f"{''.join(shapes)}{ends}{legend}</svg>"
    )
