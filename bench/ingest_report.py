"""The ingest bench's report: its tables and the issue's targets, met or missed."""

from __future__ import annotations

from bench.ingest_load import WATCH_EVERY, Pass, Sent, pct

# --- the report -----------------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def describe_ack(row: dict) -> str:
    bare, bot = row["bare"], row["bot"]
    return (
        f"bare p50/p99 {ms(pct(bare.latencies, 50))}/{ms(pct(bare.latencies, 99))} ms, "
        f"bot {ms(pct(bot.latencies, 50))}/{ms(pct(bot.latencies, 99))} ms "
        f"({ratio(pct(bot.latencies, 99), pct(bare.latencies, 99)):.2f}x), refused {bot.refused}, "
        f"stored p50/p99 {ms(pct(bot.to_store, 50))}/{ms(pct(bot.to_store, 99))} ms, unstored {bot.lost}"
    )


def describe_drain(sent: Sent) -> str:
    if sent.drained is not None:
        return f"every 2xx reply stored {sent.drained:.1f}s after the load"
    return f"{sent.lost} 2xx replies not stored by the end of the wait ({sent.stored} stored)"


def describe_overload(o: dict) -> str:
    sent = o["sent"]
    return (
        f"{sent.ok} 2xx, {sent.refused} refused {dict(sorted(sent.statuses.items()))}; RSS start "
        f"{o['rss_start']:.0f} MB, peak {o['rss_peak']:.0f}, end of load {o['rss_end']:.0f}, "
        f"slope over its last half {o['slope']:+.1f} MB/min; {describe_drain(sent)}"
    )


FLAT = 2.0  # MB/min: the overload's RSS slope over its last half that counts as flat


def report(passes: list[Pass], args) -> str:
    lines = [f"== Slack ingest: {args.seconds:g}s per level, loopback, bot with SCHEDULER_ENABLED=false"]
    ack_header = [
        "   ack: open loop, latency of the HTTP answer to a signed `message` event; baseline: bare Bolt",
        "   stored: from sending a reply to its contribution being seen in the database (polled every "
        f"{WATCH_EVERY * 1000:g} ms); unstored: answered 2xx, not stored by the end of the wait",
        f"   {'database':<10} {'rate/s':>6} {'bare p50':>9} {'bare p99':>9} {'bot p50':>9} {'bot p99':>9} "
        f"{'p99 ratio':>9} {'refused':>7} {'stored p50':>10} {'stored p99':>10} {'unstored':>8}",
    ]
    if any(p.ack for p in passes):
        lines += ack_header
    targets = []
    for p in passes:
        worst = 0.0
        for row in p.ack:
            bare, bot = row["bare"], row["bot"]
            r = ratio(pct(bot.latencies, 99), pct(bare.latencies, 99))
            worst = max(worst, r)
            lines.append(
                f"   {p.name:<10} {row['rate']:>6g} "
                f"{ms(pct(bare.latencies, 50)):>6} ms {ms(pct(bare.latencies, 99)):>6} ms "
                f"{ms(pct(bot.latencies, 50)):>6} ms {ms(pct(bot.latencies, 99)):>6} ms "
                f"{r:>8.2f}x {bot.refused:>7} "
                f"{ms(pct(bot.to_store, 50)):>7} ms {ms(pct(bot.to_store, 99)):>7} ms {bot.lost:>8}"
            )
        if p.ack:
            targets.append(f"{p.name}: ack p99 within 1.3x of bare Bolt at every load: {met(worst <= 1.3)}")
    if any(p.turns for p in passes):
        lines.append(
            "   turns: closed loop, contributions stored per second; ratios to 1 discussion, 1 process"
        )
        lines.append(
            f"   {'database':<10} {'processes':>9} {'parallel':>8} {'turns/s':>8} {'vs 1 disc':>9} "
            f"{'vs 1 proc':>9} {'stored p50':>10} {'refused':>7} {'stalled':>7}"
        )
    for p in passes:
        by = {(r["processes"], r["parallel"]): r["turns_per_s"] for r in p.turns}
        for r in p.turns:
            sent = r["sent"]
            lines.append(
                f"   {p.name:<10} {r['processes']:>9} {r['parallel']:>8} {r['turns_per_s']:>8.1f} "
                f"{ratio(r['turns_per_s'], by.get((r['processes'], min(args.parallel)), 0)):>8.2f}x "
                f"{ratio(r['turns_per_s'], by.get((1, r['parallel']), 0)):>8.2f}x "
                f"{ms(pct(sent.to_store, 50)):>7} ms {sent.refused:>7} {r['stalled']:>7}"
            )
        lo, hi = min(args.parallel), max(args.parallel)
        if p.name == "postgresql" and (1, lo) in by and (1, hi) in by:
            grows = ratio(by[(1, hi)], by[(1, lo)])
            targets.append(
                f"{p.name}: turns/s {hi} vs {lo} discussions >= 2x: {grows:.2f}x, {met(grows >= 2)}"
            )
            if (2, hi) in by:
                second = ratio(by[(2, hi)], by[(1, hi)])
                targets.append(
                    f"{p.name}: turns/s grow with a second process ({hi} discussions): "
                    f"{second:.2f}x, {met(second > 1.1)}"
                )
    for p in passes:
        if p.overload:
            o = p.overload
            lines.append(
                f"   overload on {p.name}: {o['rate']:g} replies/s for {o['seconds']:g}s, one process"
            )
            lines.append(f"     {describe_overload(o)}")
            rss_after, stored = o["rss_after_drain"] or float("nan"), o["sent"].to_store
            lines.append(
                f"     stored p50/p99 {ms(pct(stored, 50))}/{ms(pct(stored, 99))} ms; "
                f"RSS after the wait for the backlog {rss_after:.0f} MB; generator late by at most "
                f"{o['late'] * 1000:.0f} ms"
            )
            flat = met(o["slope"] <= FLAT) if o["slope"] == o["slope"] else "not measured (load too short)"
            targets.append(f"{p.name}: memory flat under {o['rate']:g}/s (slope <= {FLAT:g} MB/min): {flat}")
    for p in passes:
        lines.append(
            f"   {p.name}: {p.answered} replies answered 2xx, {p.contributions} stored by the time the "
            f"processes had stopped: {p.answered - p.contributions} never stored; "
            f"{p.duplicates} stored twice or more"
        )
    for p in passes:
        if p.contributions:
            per = ", ".join(
                f"{m} {n / p.contributions:.2f}" for m, n in sorted(p.calls.items(), key=lambda x: -x[1])
            )
            lines.append(f"   {p.name}: Web API calls per stored reply: {per}")
    lines.append("   targets (issue 11, item 6):")
    lines += [f"     {t}" for t in targets]
    for p in passes:
        if p.errors:
            lines.append(f"   {p.name}: {len(p.errors)} error line(s) in the processes' logs, e.g.:")
            lines += [f"     {e[:200]}" for e in p.errors[:5]]
    return "\n".join(lines)


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"
