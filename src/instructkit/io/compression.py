"""Decompress ``.gz`` / ``.zst`` inputs so that damage costs only the rows it touches.

The standard readers fail late and vaguely: ``gzip`` raises at the first bad
block (and the rows already decoded in the same buffer are lost with it), and a
``zstandard`` stream reader returns a clean end of file when the input is cut
mid-frame.  Here the stream is decoded chunk by chunk with a decompressor object
that knows whether its frame was finished, and :class:`SalvagingReader` hands
out only whole lines: when the stream breaks, every complete line before the
break has been delivered, the partial line is dropped, and ``error`` says what
happened.  A caller reports that once, with the file and line.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import IO, Any

#: Compressed bytes fed to the decompressor per step: small, so one step cannot
#: expand into gigabytes however well the data compresses.
STEP = 64 << 10


class StreamDamage(Exception):
    """The compressed stream is cut off (``truncated``) or ``corrupt`` at this point."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _gzip_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    d: Any = zlib.decompressobj(wbits=31)
    started = False
    while True:
        data = d.unconsumed_tail or fh.read(STEP)
        if not data:
            if started and not d.eof:
                raise StreamDamage(
                    "truncated", "the gzip stream ends before its end marker (file cut off?)"
                )
            return
        started = True
        try:
            yield d.decompress(data, STEP * 16)
        except zlib.error as e:
            raise StreamDamage("corrupt", f"corrupt gzip data ({e})") from None
        if d.eof:  # a member ended; another may follow (concatenated gzip)
            rest = d.unused_data
            d = zlib.decompressobj(wbits=31)
            started = bool(rest.strip(b"\0"))
            if started:
                try:
                    yield d.decompress(rest, STEP * 16)
                except zlib.error as e:
                    raise StreamDamage("corrupt", f"corrupt gzip data ({e})") from None


def _zstd_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    d = dctx.decompressobj()
    started = False
    while True:
        data = fh.read(STEP)
        if not data:
            if started and not d.eof:
                raise StreamDamage(
                    "truncated", "the zstd stream ends inside a frame (file cut off?)"
                )
            return
        while data:
            started = True
            try:
                yield d.decompress(data)
            except zstandard.ZstdError as e:
                raise StreamDamage("corrupt", f"corrupt zstd data ({e})") from None
            data = b""
            if d.eof:  # a frame ended; the rest of the chunk starts the next one
                data = d.unused_data
                d = dctx.decompressobj()
                started = False


class SalvagingReader(io.RawIOBase):
    """A readable raw stream over decompressed chunks that only ever hands out whole lines
    (plus the unterminated last line of an intact stream)."""

    def __init__(self, chunks: Iterator[bytes], file: IO[bytes]) -> None:
        self._chunks = chunks
        self._file = file
        self._ready = bytearray()
        self._tail = b""
        self._done = False
        self.error: str | None = None
        self.reason = "corrupt"
        #: Bytes handed out: none means nothing of the file was readable.
        self.delivered = 0
        #: Complete lines handed out so far: where the damage is, for the reject.
        self.lines = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()
        super().close()

    def readinto(self, b: Any) -> int:
        while not self._ready and not self._done:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._ready += self._tail
                self._tail, self._done = b"", True
                break
            except StreamDamage as e:
                self.error, self.reason, self._tail, self._done = str(e), e.reason, b"", True
                break
            data = self._tail + chunk
            cut = data.rfind(b"\n") + 1
            self._ready += data[:cut]
            self._tail = data[cut:]
            self.lines += data.count(b"\n", 0, cut)
        n = min(len(b), len(self._ready))
        b[:n] = self._ready[:n]
        del self._ready[:n]
        self.delivered += n
        return n


def open_decompressed(fh: IO[bytes], compression: str) -> tuple[IO[bytes], SalvagingReader]:
    """A buffered reader over ``fh`` decompressed, and the raw reader that records damage."""
    chunks = _gzip_chunks(fh) if compression == ".gz" else _zstd_chunks(fh)
    raw = SalvagingReader(chunks, fh)
    return io.BufferedReader(raw, buffer_size=1 << 20), raw
