"""Charts as SVG, drawn here on the server so that they look the same on the page and
in the PDF (WeasyPrint renders inline SVG), with no script, no network and no CDN.

Written here rather than taken from PyPI: the charting libraries there either
need a browser (JavaScript), embed ``<style>`` blocks that the pages'
Content-Security-Policy (style-src 'self') refuses, or pull in a plotting stack
(matplotlib) for a few rectangles. These charts use presentation attributes only,
carry a <title> per bar for the exact number, and are labelled for screen readers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999",
           "#882255")
FONT = "DejaVu Sans, RA Serif, sans-serif"
INK, GRID, MUTED = "#1d2733", "#d5dbe2", "#5b6775"
LEGEND_COLUMNS = 2


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]
    color: str | None = None


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2 or 5 × 10^k) up to at least ``top``."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if step < 1 and top >= 1:
        step = 1
    n = math.ceil(top / step)
    return [round(i * step, 6) for i in range(n + 1)]


def _fmt(v: float) -> str:
    return f"{int(v):,}".replace(",", "\u202f") if float(v).is_integer() else f"{v:,.1f}".replace(",", "\u202f")


def _text(x, y, s, *, size=11, anchor="start", fill=INK, rotate=None, weight=None) -> str:
    extra = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    bold = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
            f' font-family="{FONT}"{bold}{extra}>{escape(str(s))}</text>')


def _open(width, height, title) -> list[str]:
    t = escape(str(title))
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{t}" class="chart">', f"<title>{t}</title>",
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']


def bar_chart(title, categories: list[str], series: list[Series], *, width: int = 760, height: int = 300,
              stacked: bool = True) -> Markup:
    """Vertical bars per category; several series are stacked (or side by side)."""
    series = [Series(s.name, s.values, s.color or PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]
    legend_rows = 1 if len(series) <= 1 else math.ceil(len(series) / LEGEND_COLUMNS)
    left, right, top, bottom = 56, 12, 28, 58 + 18 * (legend_rows if len(series) > 1 else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(categories))
    totals = [sum(s.values[i] for s in series) if stacked else max((s.values[i] for s in series), default=0)
              for i in range(len(categories))]
    ticks = nice_ticks(max(totals, default=0))
    ymax = ticks[-1] or 1
    out = _open(width, height, title)
    out.append(_text(left, 16, title, size=13, weight="bold"))
    for t in ticks:
        y = top + plot_h - plot_h * t / ymax
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}" '
                   f'stroke-width="1"/>')
        out.append(_text(left - 6, y + 4, _fmt(t), size=10, anchor="end", fill=MUTED))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.72)
    label_every = max(1, math.ceil(n / max(1, plot_w // 46)))
    for i, cat in enumerate(categories):
        x0 = left + i * slot + (slot - bar_w) / 2
        base = 0.0
        for j, s in enumerate(series):
            v = s.values[i]
            if v <= 0:
                continue
            h = plot_h * v / ymax
            if stacked:
                y = top + plot_h - plot_h * base / ymax - h
                x, w = x0, bar_w
                base += v
            else:
                w = bar_w / len(series)
                x, y = x0 + j * w, top + plot_h - h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{s.color}">'
                       f'<title>{escape(cat)} · {escape(s.name)}: {_fmt(v)}</title></rect>')
        if i % label_every == 0:
            cx = left + i * slot + slot / 2
            out.append(_text(cx, top + plot_h + 14, cat, size=10, anchor="end", fill=MUTED, rotate=-30))
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{INK}"/>')
    if len(series) > 1:
        out += _legend(series, left, height - 18 * legend_rows + 2, width - left - right)
    out.append("</svg>")
    return Markup("".join(out))


def _legend(series: list[Series], x: float, y: float, width: float) -> list[str]:
    out, col_w = [], width / LEGEND_COLUMNS
    room = int((col_w - 20) / 6)  # characters that fit at 10 px
    for i, s in enumerate(series):
        cx, cy = x + (i % LEGEND_COLUMNS) * col_w, y + (i // LEGEND_COLUMNS) * 18
        name = s.name if len(s.name) <= room else s.name[:room - 1] + "…"
        out.append(f'<rect x="{cx:.1f}" y="{cy - 9:.1f}" width="10" height="10" fill="{s.color}"/>')
        out.append(_text(cx + 14, cy, name, size=10))
    return out


def hbar_chart(title, labels: list[str], values: list[float], *, width: int = 760, color: str = PALETTE[0]) -> Markup:
    """Horizontal bars with the value at the end of each: states, reasons, officers."""
    row_h, top = 22, 28
    label_w = min(300, 12 + 7 * max((len(str(lb)) for lb in labels), default=4))
    height = top + row_h * max(1, len(labels)) + 10
    plot_w = width - label_w - 70
    vmax = max(values, default=0) or 1
    out = _open(width, height, title)
    out.append(_text(8, 16, title, size=13, weight="bold"))
    for i, (lb, v) in enumerate(zip(labels, values)):
        y = top + i * row_h
        w = plot_w * v / vmax
        out.append(_text(label_w - 8, y + 15, lb, size=11, anchor="end"))
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 0.5 if v else 0):.1f}" height="{row_h - 6}" '
                   f'fill="{color}"><title>{escape(str(lb))}: {_fmt(v)}</title></rect>')
        out.append(_text(label_w + w + 6, y + 15, _fmt(v), size=11, fill=MUTED))
    out.append("</svg>")
    return Markup("".join(out))
