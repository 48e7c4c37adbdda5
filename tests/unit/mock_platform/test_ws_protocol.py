"""The lean per-link parts of the platform's WebSocket protocol (`mock_platform.ws_protocol`)."""

from __future__ import annotations

import asyncio

from mock_platform.heartbeat import Heartbeat
from mock_platform.ws_protocol import HubWebSocketProtocol, ReceiveQueue, WriteGate, protocol_class


async def test_the_receive_queue_hands_messages_over_in_order_and_wakes_its_reader():
    queue = ReceiveQueue()
    assert queue.empty()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert (await queue.get(), queue.qsize(), await queue.get(), queue.empty()) == (1, 1, 2, True)
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # the reader now waits on the empty queue
    assert not reader.done()
    queue.put_nowait("disconnect")
    assert await asyncio.wait_for(reader, 5) == "disconnect"


async def test_a_cancelled_reader_loses_no_message():
    queue = ReceiveQueue()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    queue.put_nowait("kept")
    assert await asyncio.wait_for(queue.get(), 5) == "kept"


async def test_the_write_gate_holds_writers_while_closed_and_releases_them_all():
    gate = WriteGate()
    assert gate.is_set()
    await asyncio.wait_for(gate.wait(), 5)  # open: no wait
    gate.clear()
    writers = [asyncio.create_task(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in writers) and not gate.is_set()
    writers[0].cancel()
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*writers, return_exceptions=True), 5)
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == [None, None]


def test_each_server_gets_a_protocol_class_bound_to_its_own_heartbeat():
    first, second = Heartbeat(1.0), Heartbeat(2.0)
    one, two = protocol_class(first), protocol_class(second)
    assert issubclass(one, HubWebSocketProtocol) and (one.heartbeat, two.heartbeat) == (first, second)
