"""What Arrow data will decode to, measured before it is decoded (the readers' side of `limits`).

Two places hide size: dictionary arrays (one long string referenced by a million rows costs a
million strings once turned into Python), and compressed Arrow IPC buffers (a `datasets` folder's
.arrow files, which `datasets` would decompress whole on load). `decoded_bytes` counts the first
without expanding anything; `ipc_stream_sizes` reads the second from the messages' metadata.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError
from ftdemo.io.limits import VALUE_OVERHEAD


def decoded_bytes(array: Any) -> int:
    """Bytes the values of an Arrow array, chunked array or record batch take once decoded (dictionaries
    expanded, strings at their UTF-8 length, every value at least VALUE_OVERHEAD); slices count only
    their own rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, (pa.RecordBatch, pa.Table)):
        return sum(decoded_bytes(column) for column in array.columns)
    if isinstance(array, pa.ChunkedArray):
        return sum(decoded_bytes(chunk) for chunk in array.chunks)
    kind, n = array.type, len(array)
    overhead = VALUE_OVERHEAD * n
    if pa.types.is_dictionary(kind):
        entry = _entry_sizes(array.dictionary)
        return overhead + int(pc.sum(pc.take(entry, array.indices)).as_py() or 0)
    if _is_binary_like(kind):
        return overhead + int(pc.sum(pc.binary_length(array)).as_py() or 0)
    if pa.types.is_fixed_size_list(kind):
        return overhead + decoded_bytes(array.flatten())
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind):
        offsets = array.offsets
        start, end = offsets[0].as_py(), offsets[-1].as_py()
        return overhead + decoded_bytes(array.values.slice(start, end - start))
    if pa.types.is_struct(kind):
        return overhead + sum(decoded_bytes(child) for child in array.flatten())
    try:
        width = kind.bit_width // 8  # numbers, dates, booleans (bit_width 1: counted as overhead)
    except (AttributeError, ValueError):
        return overhead + array.nbytes  # anything else (unions, extension types): what Arrow holds
    return n * max(VALUE_OVERHEAD, width)


def _is_binary_like(kind: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind) or pa.types.is_string_view(kind) or pa.types.is_binary_view(kind))


def _entry_sizes(dictionary: Any) -> Any:
    """Decoded bytes of each dictionary entry, as an int64 array (for `take` by the indices)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if _is_binary_like(dictionary.type):
        return pc.fill_null(pc.binary_length(dictionary), 0).cast(pa.int64())
    return pa.array([decoded_bytes(dictionary.slice(i, 1)) for i in range(len(dictionary))], pa.int64())


def type_depth(kind: Any) -> int:
    """Nesting depth of an Arrow type (a scalar column is 1, a list of strings 2), without recursion."""
    import pyarrow as pa

    deepest, stack = 0, [(kind, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if pa.types.is_dictionary(item):
            stack.append((item.value_type, depth))
        elif pa.types.is_map(item):
            stack += [(item.key_type, depth + 1), (item.item_type, depth + 1)]
        elif hasattr(item, "value_type"):  # list, large_list, fixed_size_list, list_view
            stack.append((item.value_type, depth + 1))
        elif pa.types.is_struct(item) or pa.types.is_union(item):
            stack += [(item.field(i).type, depth + 1) for i in range(item.num_fields)]
    return deepest


def schema_depth(schema: Any) -> int:
    """The deepest column of an Arrow schema (0 for no columns)."""
    return max((type_depth(field.type) for field in schema), default=0)


# --- Arrow IPC streams (the .arrow files of a `datasets` folder) ------------------------------------
# A message's metadata is a flatbuffer (format/Message.fbs): Message{version, header_type, header,
# bodyLength}, RecordBatch{length, nodes, buffers, compression}, DictionaryBatch{id, data, isDelta}.
# With compression every body buffer starts with its uncompressed length (int64; -1: stored as is).


class _Table:
    """Read-only view of one flatbuffer table; every offset is checked against the buffer."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - self._unpack("<i", pos)
        self.vsize = self._unpack("<H", self.vtable)

    def _unpack(self, fmt: str, at: int) -> int:
        if at < 0 or at + struct.calcsize(fmt) > len(self.buf):
            raise ValueError("offset outside the message")
        return struct.unpack_from(fmt, self.buf, at)[0]

    def field(self, index: int) -> int | None:
        """Absolute position of field `index`, or None when it is absent."""
        slot = 4 + 2 * index
        if slot + 2 > self.vsize:
            return None
        offset = self._unpack("<H", self.vtable + slot)
        return self.pos + offset if offset else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self.field(index)
        return default if at is None else self._unpack(fmt, at)

    def table(self, index: int) -> _Table | None:
        at = self.field(index)
        return None if at is None else _Table(self.buf, at + self._unpack("<I", at))

    def structs(self, index: int, fmt: str) -> list[tuple[int, ...]]:
        """A vector of fixed-size structs (e.g. Buffer{offset, length} as "<qq")."""
        at = self.field(index)
        if at is None:
            return []
        start = at + self._unpack("<I", at)
        count, size = self._unpack("<I", start), struct.calcsize(fmt)
        if start + 4 + count * size > len(self.buf):
            raise ValueError("vector outside the message")
        return [struct.unpack_from(fmt, self.buf, start + 4 + i * size) for i in range(count)]


def _batch_sizes(batch: _Table, body: Any) -> tuple[int, int]:
    """(rows, uncompressed body bytes) of a RecordBatch table, without decompressing anything."""
    rows = batch.scalar(0, "<q")
    compressed = batch.field(3) is not None
    body_bytes = memoryview(body) if body is not None else memoryview(b"")
    total = 0
    for offset, length in batch.structs(2, "<qq"):
        if not compressed or length < 8:
            total += max(0, length)
            continue
        if offset < 0 or offset + 8 > len(body_bytes):
            raise ValueError("buffer outside the message body")
        declared = struct.unpack_from("<q", body_bytes, offset)[0]
        total += length - 8 if declared == -1 else declared
    return rows, total


def ipc_stream_sizes(path: Path) -> Iterator[tuple[Any, int, int]]:
    """For each message of an Arrow IPC stream file: (schema or None, rows, decoded body bytes).

    Reads the memory-mapped file message by message and decompresses nothing, so a compressed
    stream that would decode to gigabytes is measured at the cost of its metadata.
    """
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.MessageReader.open_stream(source)
            while True:
                try:
                    message = reader.read_next_message()
                except StopIteration:
                    return
                if message.type == "schema":
                    yield pa.ipc.read_schema(message), 0, 0
                    continue
                meta = message.metadata.to_pybytes()
                header = _Table(meta, struct.unpack_from("<I", meta, 0)[0]).table(2)
                if message.type == "dictionary batch" and header is not None:
                    data = header.table(1)  # DictionaryBatch.data; its rows are entries, not table rows
                    yield None, 0, _batch_sizes(data, message.body)[1] if data is not None else 0
                elif message.type == "record batch" and header is not None:
                    yield None, *_batch_sizes(header, message.body)
    except (pa.ArrowException, OSError, ValueError, struct.error) as err:
        raise InvalidInputError(f"{path.name!r} is not a readable Arrow stream ({err})") from None
