"""Charts as inline SVG text (matplotlib, no pyplot, no global state): the report embeds
them, so it opens offline. Labels are drawn as escaped SVG text, never parsed as math."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_RC: dict[str, Any] = {
    "svg.fonttype": "none",      # text stays text: small files, selectable, escaped by the writer
    "text.parse_math": False,    # a "$" in a host or case name is a dollar, not TeX
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_WIDTH = 7.0  # inches at 72 dpi in SVG: about 500 px, two charts side by side on a wide screen


def _figure(height: float, left_chars: int) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    # Fixed margins rather than a layout engine: constrained layout draws every figure twice,
    # which doubles the cost of a report with dozens of charts.
    fig = Figure(figsize=(_WIDTH, height))
    left = min(0.5, (0.35 + 0.065 * left_chars) / _WIDTH)
    fig.subplots_adjust(left=left, right=0.97, top=1 - 0.32 / height, bottom=0.55 / height)
    return fig, fig.add_subplot()


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE for inline use
    # Inline SVG in HTML needs no namespace declarations, and the RDF metadata only names
    # matplotlib: without them the report holds no URL at all.
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)


def _render(draw: Any, height: float, left_chars: int = 8) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig, ax = _figure(height, left_chars)
        draw(ax)
        return _svg(fig)


def latency_distribution(groups: Sequence[tuple[str, Sequence[float]]], title: str) -> str:
    """Box plots of raw latencies (ms), one per label; whiskers at the 1st and 99th
    percentiles, points beyond them not drawn (a million iterations stay one box)."""

    def draw(ax: Axes) -> None:
        ms = [[x * 1e3 for x in samples] for _, samples in groups]
        ax.boxplot(ms, orientation="horizontal", whis=(1, 99), showfliers=False,
                   tick_labels=[label for label, _ in groups], medianprops={"color": "C3"})
        ax.invert_yaxis()
        ax.set_xlabel("latency per iteration (ms)")
        ax.set_title(title, loc="left")

    return _render(draw, 0.9 + 0.32 * len(groups), max(len(lbl) for lbl, _ in groups))


def throughput_vs_batch(lines: Mapping[str, Sequence[tuple[int, float]]], title: str) -> str:
    """Samples per second against batch size, one line per label."""

    def draw(ax: Axes) -> None:
        for label, points in lines.items():
            pts = sorted(points)
            ax.plot([b for b, _ in pts], [t for _, t in pts], marker="o", label=label)
        ax.set_xscale("log", base=2)
        batches = sorted({b for pts in lines.values() for b, _ in pts})
        ax.set_xticks(batches, [str(b) for b in batches])  # plain labels: math text is off
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples/s")
        ax.set_title(title, loc="left")
        ax.legend(fontsize=8)

    return _render(draw, 3.0)


def power_over_time(lines: Mapping[str, Sequence[tuple[float, float]]], title: str) -> str:
    """Polled power (W) over each run's timed window, one line per label."""

    def draw(ax: Axes) -> None:
        for label, points in lines.items():
            ax.plot([t for t, _ in points], [w for _, w in points], label=label, lw=1)
        ax.set_xlabel("seconds into the timed window")
        ax.set_ylabel("W")
        ax.set_title(title, loc="left")
        ax.legend(fontsize=8)

    return _render(draw, 2.8)


def history(points: Sequence[tuple[datetime, float]], steps: Sequence[datetime],
            title: str) -> str:
    """Median latency (ms) of each run of a series over time; steps as vertical lines."""

    def draw(ax: Axes) -> None:
        ax.plot([t for t, _ in points], [v * 1e3 for _, v in points],  # type: ignore[arg-type]
                marker=".", lw=1)
        for when in steps:
            ax.axvline(when, color="C3", ls="--", lw=1)  # type: ignore[arg-type]
        ax.set_ylabel("p50 ms")
        ax.set_title(title, loc="left")
        ax.tick_params(axis="x", labelrotation=20)

    return _render(draw, 2.6)


def speed_vs_accuracy(points: Sequence[tuple[str, float, float]], ylabel: str,
                      title: str) -> str:
    """One point per vendor × precision: median latency (ms) against an accuracy figure."""

    def draw(ax: Axes) -> None:
        ax.scatter([lat * 1e3 for _, lat, _ in points], [acc for _, _, acc in points], s=30,
                   c=[f"C{i % 10}" for i in range(len(points))])
        for i, (label, lat, acc) in enumerate(sorted(points, key=lambda p: p[1])):
            # Alternate above and below so that neighbours' labels do not overprint.
            ax.annotate(label, (lat * 1e3, acc), textcoords="offset points",
                        xytext=(5, 4 if i % 2 == 0 else -11), fontsize=8)
        ax.margins(x=0.15, y=0.12)  # room for the labels of the outermost points
        lats = [lat for _, lat, _ in points if lat > 0]
        if lats and max(lats) > 20 * min(lats):
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_xscale("log")
            # The log formatter writes TeX ($10^{2}$), which is shown raw with math text off.
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("p50 latency (ms, lower is faster)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")

    return _render(draw, 3.0)
