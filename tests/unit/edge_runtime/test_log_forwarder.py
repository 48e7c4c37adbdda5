"""The runtime's log forwarding policy on plain values: subscription, rate, drop report, size, redaction, batches."""

from __future__ import annotations

import asyncio

from edge_protocol.tail import MAX_LOG_ENTRIES_PER_BATCH, MAX_LOG_LINE_BYTES, TRUNCATED_MARK
from edge_runtime.log_forwarder import MAX_PENDING_LINES, LogForwarder
from edge_runtime.logs import REDACTED, register_secret


def offer(
    fwd: LogForwarder, now: float, text: str = "line", tool: str = "echo", call_id: str | None = "call_1"
) -> bool:
    return fwd.offer(now, "2026-11-30T10:00:00.000Z", tool, call_id, "info", text)


def test_nothing_is_kept_or_sent_while_nobody_tails():
    fwd = LogForwarder()
    assert offer(fwd, 0.0) is False
    assert not fwd.waiting and fwd.take_batch("t") == []
    fwd.set_subscribed(True)
    assert offer(fwd, 0.0, "hello") is True
    fwd.set_subscribed(False)  # the last viewer left before the batch went out: it is forgotten
    assert not fwd.waiting and fwd.take_batch("t") == []


def test_lines_keep_their_tool_call_id_level_and_order():
    fwd = LogForwarder()
    fwd.set_subscribed(True)
    for n in range(5):
        offer(fwd, n / 100, f"line {n}", call_id=f"call_{n % 2}")
    batch = fwd.take_batch("t")
    assert [(e.message, e.call_id, e.tool, e.level) for e in batch] == [
        (f"line {n}", f"call_{n % 2}", "echo", "info") for n in range(5)
    ]


def test_at_most_rate_lines_per_sliding_second_and_one_drop_report():
    fwd = LogForwarder(rate=200)
    fwd.set_subscribed(True)
    # 10,000 lines over 2 s (a tool logging in a loop): 200 pass in each second, the rest are counted.
    for n in range(10_000):
        offer(fwd, n * 0.0002, f"line {n}")
    sent = []
    while fwd.waiting:
        sent.extend(fwd.take_batch("t"))
    lines = [e for e in sent if not e.message.endswith("lines/s)")]
    reports = [e for e in sent if e.message.endswith("lines/s)")]
    assert len(lines) == 400 and fwd.forwarded_total == 400
    assert [r.message for r in reports] == ["9600 lines dropped (more than 200 lines/s)"]
    assert reports[0].call_id is None and reports[0].level == "warn" and reports[0].tool == "echo"
    assert fwd.dropped_total == 9600


def test_the_window_slides():
    fwd = LogForwarder(rate=3, window=1.0)
    fwd.set_subscribed(True)
    for now in (0.0, 0.1, 0.2, 0.3, 1.05, 1.15, 1.25):
        offer(fwd, now, f"at {now}")
    messages = [e.message for e in fwd.take_batch("t")]
    # 0.3 finds three lines in its second; by 1.25 the first three have left the window.
    assert messages == [
        "at 0.0",
        "at 0.1",
        "at 0.2",
        "at 1.05",
        "at 1.15",
        "at 1.25",
        "1 lines dropped (more than 3 lines/s)",
    ]


def test_batches_are_bounded_and_the_report_waits_for_a_slot():
    fwd = LogForwarder(rate=10_000)
    fwd.set_subscribed(True)
    for n in range(MAX_LOG_ENTRIES_PER_BATCH + 10):
        offer(fwd, 0.0, f"line {n}")
    first, second = fwd.take_batch("t"), fwd.take_batch("t")
    assert len(first) == MAX_LOG_ENTRIES_PER_BATCH and len(second) == 10 and not fwd.waiting


def test_pending_lines_are_bounded_when_the_link_is_slow():
    fwd = LogForwarder(rate=10**9)
    fwd.set_subscribed(True)
    for n in range(MAX_PENDING_LINES + 25):
        offer(fwd, 0.0, f"line {n}")
    assert fwd.dropped_total == 25


def test_long_lines_are_cut_to_4_kib_and_secrets_are_redacted_before_the_cut():
    fwd = LogForwarder()
    fwd.set_subscribed(True)
    register_secret("s3cr3t-value-for-tail-tests")
    offer(fwd, 0.0, "x" * 10_000)
    offer(fwd, 0.0, "calling with Authorization: Bearer abc.def.ghi and s3cr3t-value-for-tail-tests")
    offer(fwd, 0.0, "y" * (MAX_LOG_LINE_BYTES - 10) + "s3cr3t-value-for-tail-tests")
    long, secret, edge = fwd.take_batch("t")
    assert len(long.message.encode()) <= MAX_LOG_LINE_BYTES and long.message.endswith(TRUNCATED_MARK)
    assert "abc.def.ghi" not in secret.message and "s3cr3t" not in secret.message and REDACTED in secret.message
    assert "s3cr3t" not in edge.message and len(edge.message.encode()) <= MAX_LOG_LINE_BYTES


async def test_the_shipper_sends_batches_only_while_subscribed():
    from edge_runtime.log_forwarder import LogShipper

    sent: list[list] = []
    got_batch = asyncio.Event()

    async def send(batch) -> None:
        sent.append(batch)
        got_batch.set()

    fwd = LogForwarder()
    shipper = LogShipper(fwd, send, interval=0.01)
    task = asyncio.create_task(shipper.run())
    try:
        shipper.line("echo", "call_1", "info", "before anyone tails")  # dropped on the floor, not kept
        fwd.set_subscribed(True)
        for n in range(3):
            shipper.line("echo", "call_1", "info", f"line {n}")
        await asyncio.wait_for(got_batch.wait(), 5)
        assert [[e.message for e in batch] for batch in sent] == [["line 0", "line 1", "line 2"]]
        assert sent[0][0].at.endswith("Z") and sent[0][0].call_id == "call_1"
        fwd.set_subscribed(False)
        shipper.line("echo", "call_1", "info", "after the last viewer left")
        assert not fwd.waiting and len(sent) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
