"""Bar charts as inline SVG (no script, no external asset): the consoles' dashboards."""

from __future__ import annotations

from html import escape


def bars(data: list[tuple[str, float]], *, title: str, width: int = 640, height: int = 180) -> str:
    """A labelled bar chart of ``(label, value)`` pairs, values written above the bars."""
    if not data:
        return f'<figure class="chart"><figcaption>{escape(title)}</figcaption><p>—</p></figure>'
    top = max((v for _, v in data), default=0) or 1
    slot = width / len(data)
    bar_w = max(2.0, slot * 0.7)
    plot = height - 34
    parts = []
    for i, (label, value) in enumerate(data):
        h = plot * (value / top)
        x = i * slot + (slot - bar_w) / 2
        y = 14 + plot - h
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#0b4f6c">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 2:.1f}" font-size="9" text-anchor="middle">{escape(shown)}</text>'
        )
        if len(data) <= 16 or i % max(1, len(data) // 8) == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 6}" font-size="9" '
                         f'text-anchor="middle">{escape(label[:14])}</text>')  # fmt: skip
    return (
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg></figure>'
    )
