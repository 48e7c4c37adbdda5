"""A bounded byte pipe from the event loop to a thread: the archive download streams into the verifying
unpacker while it arrives, and neither waits for the other more than `ChunkPipe.MAX_BUFFERED` bytes."""

from __future__ import annotations

import asyncio
import collections
import threading


class ReaderGone(Exception):
    """The unpacker stopped reading (it failed, or the archive ended before the stream did)."""


class ChunkPipe:
    """A bounded byte pipe from the event loop (`write`) to a thread (`read`, a file-like source).

    The producer awaits when `MAX_BUFFERED` bytes wait unread, so a fast network cannot pile a
    50 MB archive up in memory; `finish(error)` makes the reader see the end or that error.
    """

    MAX_BUFFERED = 4 << 20

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._cond = threading.Condition()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._eof = False
        self._error: BaseException | None = None
        self._reader_gone = False
        self._producer_waits = False
        self.written = 0
        self._space = asyncio.Event()
        self._space.set()

    # producer side (event loop)
    async def write(self, chunk: bytes) -> None:
        while True:
            with self._cond:
                if self._reader_gone:
                    raise ReaderGone()
                if self._buffered < self.MAX_BUFFERED:
                    self.written += len(chunk)
                    self._chunks.append(chunk)
                    self._buffered += len(chunk)
                    self._cond.notify()
                    return
                self._space.clear()
                self._producer_waits = True
            await self._space.wait()

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._eof = True
            self._error = error
            self._cond.notify()

    # consumer side (thread)
    def read(self, size: int = -1) -> bytes:
        with self._cond:
            while not self._chunks and not self._eof:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            if not self._chunks:
                return b""
            chunk = self._chunks.popleft()
            if 0 <= size < len(chunk):
                self._chunks.appendleft(chunk[size:])
                chunk = chunk[:size]
            self._buffered -= len(chunk)
            if self._producer_waits and self._buffered < self.MAX_BUFFERED:
                # Only then: waking the event loop from a thread costs a syscall per chunk.
                self._producer_waits = False
                self._loop.call_soon_threadsafe(self._space.set)
            return chunk

    def reader_done(self) -> None:
        with self._cond:
            self._reader_gone = True
        try:
            self._loop.call_soon_threadsafe(self._space.set)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass
