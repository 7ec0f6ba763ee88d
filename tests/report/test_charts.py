"""Charts are inline SVG with escaped, literal labels and no URLs."""

from __future__ import annotations

from datetime import datetime, timedelta

from flagbench.report import charts

XSS = "<script>alert(1)</script> $x$"


def test_every_chart_is_inline_svg_with_literal_escaped_text() -> None:
    t0 = datetime(2026, 11, 1)
    svgs = [
        charts.latency_distribution([(XSS, [0.01, 0.012, 0.011]), ("b", [0.02, 0.021])], XSS),
        charts.throughput_vs_batch({XSS: [(1, 10.0), (8, 50.0), (32, 80.0)]}, XSS),
        charts.power_over_time({XSS: [(0.0, 30.0), (0.05, 31.0)]}, XSS),
        charts.history([(t0 + timedelta(days=i), 0.05) for i in range(4)], [t0], XSS),
        charts.speed_vs_accuracy([(XSS, 0.001, 0.9), ("b", 0.1, 0.8)], "acc", XSS),
    ]
    for svg in svgs:
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<script>" not in svg and "&lt;script&gt;" in svg
        assert "$x$" in svg  # a dollar is a dollar, not TeX
        assert "mathdefault" not in svg and "http" not in svg
    assert ">32<" in svgs[1] or "32</text>" in svgs[1]  # batch sizes as plain tick labels
