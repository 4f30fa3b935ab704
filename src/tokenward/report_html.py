"""`tokens report --html`: one self-contained page of every token's state.

Inline CSS and inline SVG only: no script, no font, no image, no link to fetch, and a
Content-Security-Policy that would block them if one slipped in. Everything that comes
from the inventory or a shared store (names, kinds, purposes, store names) is escaped
with `html.escape` at the one place it is written (`_e`), so a teammate's `<script>` or
`</style>` in a purpose reads as text. Statuses read without colour: each has a text
label and a symbol (and its own marker shape on the timeline)."""

from __future__ import annotations

import html
import math
from datetime import datetime, timedelta, timezone

from tokenward.duedates import Deadline, clean, effective_deadline
from tokenward.inventory import TokenRecord
from tokenward.policy import SEVERITY, Period, Status, humanize_delta
from tokenward.report import view

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
TIMELINE_ROWS = 20

# status -> (css class, symbol, label); statuses this table does not know get "other".
_CSS = {Status.OVERDUE: ("late", "\u25b2"), Status.DUE_SOON: ("soon", "\u25c6"), Status.OK: ("ok", "\u2714")}
STATUS_LOOK = {s.value: (*_CSS.get(s, ("bad", "\u2716")), s.words) for s in Status}
# What the counts and the legend show (revoked/invalid share expired's mark).
SHOWN = (Status.EXPIRED, Status.OVERDUE, Status.DUE_SOON, Status.OK)


def _rank(status: str) -> int:
    """Worst first; a status this table does not know sorts before all."""
    return -SEVERITY.get(status, len(SEVERITY))
COLOURS = {"bad": "#a1001a", "late": "#c2410c", "soon": "#8a5a00", "ok": "#1a7f37", "other": "#555555"}

STYLE = """
:root{--bad:#a1001a;--late:#c2410c;--soon:#8a5a00;--ok:#1a7f37;--other:#555555;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#fff;margin:0 auto;max-width:1200px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.meta{color:var(--muted);margin:0}
.counts{display:flex;flex-wrap:wrap;gap:12px;list-style:none;padding:0;margin:0}
.counts li{border:2px solid var(--line);border-left-width:8px;border-radius:6px;padding:8px 14px;min-width:130px}
.counts .n{display:block;font-size:26px;font-weight:700}
.bad{border-color:var(--bad)!important}.late{border-color:var(--late)!important}.soon{border-color:var(--soon)!important}.ok{border-color:var(--ok)!important}.other{border-color:var(--other)!important}
.badge{display:inline-block;white-space:nowrap;border-radius:10px;padding:0 8px;font-weight:600;font-size:13px;color:#fff}
.b-bad{background:var(--bad)}.b-late{background:var(--late)}.b-soon{background:var(--soon)}.b-ok{background:var(--ok)}.b-other{background:var(--other)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{background:#f6f8fa;position:sticky;top:0}
td.p{white-space:pre-wrap;word-break:break-word;max-width:420px}
small{color:var(--muted)}
svg{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
svg text{font:12px system-ui,sans-serif;fill:#1f2328}
svg .muted{fill:var(--muted)}
.legend{color:var(--muted);font-size:13px}
footer{margin-top:28px;color:var(--muted);font-size:13px}
@media print{th{position:static}}
"""


def _e(text: object) -> str:
    """The one way metadata enters the page: control characters replaced, then escaped."""
    return html.escape(clean(text), quote=True)


def _look(status: str) -> tuple[str, str, str]:
    return STATUS_LOOK.get(status, ("other", "\u25cf", status))


def _badge(status: str) -> str:
    css, symbol, label = _look(status)
    return f'<span class="badge b-{css}">{symbol} {_e(label)}</span>'


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class Row:
    __slots__ = ("record", "status", "deadline")

    def __init__(self, record: TokenRecord, status: str, deadline: Deadline | None) -> None:
        self.record = record
        self.status = status
        self.deadline = deadline


def rows_of(records: list[TokenRecord], now: datetime, warn_before: Period) -> list[Row]:
    rows = [Row(r, view(r, now, warn_before).status, effective_deadline(r)) for r in records]
    far = datetime.max.replace(tzinfo=timezone.utc)
    rows.sort(key=lambda row: (_rank(row.status), row.deadline.moment if row.deadline else far, row.record.name))
    return rows


def render(records: list[TokenRecord], *, now: datetime, warn_before: Period, source: str) -> str:
    rows = rows_of(records, now, warn_before)
    where = "the local inventory" if source == "local" else f"store {source.partition(':')[2]!r}"
    out = [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>tokenward: {len(rows)} tokens</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        "<header><h1>API tokens</h1>\n",
        f'<p class="meta">Generated <time datetime="{now.astimezone(timezone.utc).isoformat()}">{_utc(now)}</time>'
        f" from {_e(where)} by <code>tokens report</code>; due soon = within {_e(warn_before)}.</p></header>\n",
    ]
    out.append(_counts(rows))
    out.append('<section aria-labelledby="timeline"><h2 id="timeline">Next deadlines</h2>\n')
    out.append(_timeline(rows, now))
    out.append("</section>\n")
    out.append(_table(rows, now))
    out.append("<footer>No token value is in this page: names, kinds, purposes and dates only.</footer>\n</body>\n</html>\n")
    return "".join(out)


def _counts(rows: list[Row]) -> str:
    counts: dict[str, int] = {status: 0 for status in SHOWN}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    items = []
    for status in sorted(counts, key=_rank):
        css, symbol, label = _look(status)
        items.append(
            f'<li class="{css}" data-status="{_e(status)}"><span class="n">{counts[status]}</span>{symbol} {_e(label)}</li>'
        )
    return (
        f'<section aria-labelledby="status"><h2 id="status">Status of {len(rows)} tokens</h2>\n'
        f'<ul class="counts">{"".join(items)}</ul></section>\n'
    )


def _table(rows: list[Row], now: datetime) -> str:
    if not rows:
        return '<section aria-labelledby="tokens"><h2 id="tokens">Tokens</h2><p>No tokens.</p></section>\n'
    out = [
        '<section aria-labelledby="tokens"><h2 id="tokens">Tokens</h2>\n<table>\n<thead><tr><th scope="col">Name</th>'
        '<th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Deadline</th><th scope="col">Purpose</th>'
        '<th scope="col">Stores</th><th scope="col">Last rotated</th></tr></thead>\n<tbody>\n'
    ]
    append = out.append
    for row in rows:
        r, d = row.record, row.deadline
        if d is None:
            deadline = "-"
        else:
            deadline = f"{d.moment.date().isoformat()} <small>{humanize_delta(now, d.moment)}, {d.text}</small>"
        append(
            f"<tr><td>{_e(r.name)}</td><td>{_e(r.kind)}</td><td>{_badge(row.status)}</td><td>{deadline}</td>"
            f'<td class="p">{_e(r.purpose)}</td><td>{_e(", ".join(r.stores))}</td>'
            f"<td>{r.rotated_at.date().isoformat()}</td></tr>\n"
        )
    out.append("</tbody>\n</table></section>\n")
    return "".join(out)


# -- the timeline -------------------------------------------------------------------

WIDTH, ROW_H, TOP, NAME_X, DATE_X, PLOT_X0, PLOT_X1 = 960, 24, 30, 10, 190, 390, 940


def _marker(css: str, x: float, y: float) -> str:
    """A shape per class, so the timeline reads without colour too."""
    c = COLOURS[css]
    if css == "bad":
        return f'<path d="M{x - 5:.1f} {y - 5:.1f}l10 10m0 -10l-10 10" stroke="{c}" stroke-width="3"/>'
    if css == "late":
        return f'<path d="M{x:.1f} {y - 6:.1f}l6 11h-12z" fill="{c}"/>'
    if css == "soon":
        return f'<path d="M{x:.1f} {y - 6:.1f}l6 6l-6 6l-6 -6z" fill="{c}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{c}"/>'


def _timeline(rows: list[Row], now: datetime) -> str:
    dated = sorted((row for row in rows if row.deadline), key=lambda row: (row.deadline.moment, row.record.name))
    shown = dated[:TIMELINE_ROWS]
    if not shown:
        return "<p>No token has a deadline.</p>\n"
    start = now - timedelta(days=30)
    end = max(shown[-1].deadline.moment, now + timedelta(days=30))
    span = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        return PLOT_X0 + (PLOT_X1 - PLOT_X0) * max(0.0, min(1.0, (moment - start).total_seconds() / span))

    height = TOP + ROW_H * len(shown) + 34
    bottom = TOP + ROW_H * len(shown)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
        f' role="img" aria-labelledby="tl-title"><title id="tl-title">The {len(shown)} earliest deadlines of'
        f" {len(dated)} tokens, from 30 days ago to {end.date().isoformat()}</title>\n"
    ]
    # Month ticks (every `step` months, so labels never overlap), then today's line.
    step = max(1, math.ceil(64 / ((PLOT_X1 - PLOT_X0) * 30.44 * 86400 / span)))
    tick = datetime(start.year, start.month, 1, tzinfo=timezone.utc)
    while tick <= end:
        x = x_of(tick)
        if tick >= start and (tick.year * 12 + tick.month - 1) % step == 0 and x + 52 <= WIDTH:
            parts.append(
                f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d7de"/>'
                f'<text x="{x + 3:.1f}" y="{bottom + 16}" class="muted">{tick.strftime("%Y-%m")}</text>\n'
            )
        if (tick.year, tick.month) == (9999, 12):  # the calendar's last month (a clamped deadline)
            break
        tick = datetime(tick.year + tick.month // 12, tick.month % 12 + 1, 1, tzinfo=timezone.utc)
    today = x_of(now)
    parts.append(
        f'<line x1="{today:.1f}" y1="{TOP - 14}" x2="{today:.1f}" y2="{bottom}" stroke="#1f2328" stroke-dasharray="4 3"/>'
        f'<text x="{today + 4:.1f}" y="{TOP - 16}">today</text>\n'
    )
    for i, row in enumerate(shown):
        y = TOP + ROW_H * i + ROW_H / 2
        d = row.deadline
        css, symbol, label = _look(row.status)
        x = x_of(d.moment)
        before = "\u25c0 " if d.moment < start else ""
        parts.append(
            f'<g><title>{_e(row.record.name)}: {_e(label)}, {d.text} {_utc(d.moment)}</title>'
            f'<text x="{NAME_X}" y="{y + 4:.1f}">{_e(row.record.name[:28])}</text>'
            f'<text x="{DATE_X}" y="{y + 4:.1f}" class="muted">{before}{d.moment.date().isoformat()}'
            f" ({humanize_delta(now, d.moment)})</text>"
            f'<line x1="{min(x, today):.1f}" y1="{y:.1f}" x2="{max(x, today):.1f}" y2="{y:.1f}" stroke="{COLOURS[css]}"'
            f' stroke-opacity="0.35" stroke-width="3"/>{_marker(css, x, y)}</g>\n'
        )
    parts.append("</svg>\n")
    legend = " \u00b7 ".join(f"{symbol} {label}" for css, symbol, label in (_look(s) for s in SHOWN))
    more = f" The table below lists all {len(dated)}." if len(dated) > len(shown) else ""
    parts.append(f'<p class="legend">Markers: {legend} (\u2716 also revoked/invalid).{more}</p>\n')
    return "".join(parts)
