"""A file object that keeps what is written to it until drained.

For writers that want a file (``csv.writer`` over a text wrapper, ``zipfile.ZipFile``)
while the bytes are streamed out in chunks as they are produced: write, then
:meth:`ByteSink.drain` what came so far, so memory holds one chunk, not the file.
"""

from __future__ import annotations


class ByteSink:
    """Collects written bytes; :meth:`drain` returns and forgets them."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data
