"""Inflating a gzip upload whole and checked: every member, every trailer, within the size limit.

A ``.gz`` file may hold several members one after another (``cat a.gz b.gz``, ``gzip >>``): each is read.
zlib checks each member's trailer (CRC-32 and length); a file cut short, or followed by bytes that are not
another member (zero padding, as the ``gzip`` tool allows, is accepted), is refused rather than read in part.
The output is kept as pieces and copied once into a buffer of the exact size, so the memory peak stays near
the inflated size (and near the limit for a gzip bomb, which is refused as soon as it passes it).
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

from flywheel_core.exceptions import DataValidationError, LimitExceededError

__all__ = ["inflate"]

_IN = 1 << 20  # compressed bytes fed per call
_OUT = 4 << 20  # inflated bytes taken per call
_MAGIC = b"\x1f\x8b"


def _refused(label: str, what: str) -> DataValidationError:
    return DataValidationError(
        f"{label} is not a valid gzip file: {what}. Re-compress the complete file, or upload it uncompressed."
    )


def _zlib_reason(exc: zlib.error, member: int) -> str:
    text = str(exc)
    if "incorrect data check" in text:
        return f"member {member}'s checksum (CRC-32) does not match its data (the file is damaged)"
    if "incorrect length check" in text:
        return f"member {member}'s recorded length does not match its data (the file is damaged)"
    return f"member {member} cannot be inflated ({text})"


def inflate(raw: bytes | memoryview, *, max_bytes: int, label: str) -> pa.Buffer:
    """Every member of gzip data ``raw``, inflated into one buffer of at most ``max_bytes``.

    Raises:
        LimitExceededError: the data inflates past ``max_bytes`` (refused on the way, not after).
        DataValidationError: a member is damaged (checksum or length), the data is cut short, or it is
            followed by bytes that are not another gzip member.
    """
    view = memoryview(raw)
    pieces: list[bytes] = []
    total = 0
    start, member = 0, 0
    while start < len(view):
        member += 1
        if view[start : start + 2] != _MAGIC:
            if not np.frombuffer(
                view[start:], dtype=np.uint8
            ).any():  # zero padding after the last member, as gzip itself accepts
                break
            raise _refused(
                label,
                f"{len(view) - start:,} bytes after the end of member {member - 1} (byte {start:,}) are not "
                "gzip data (trailing garbage, or a file written over another)",
            )
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        position = start
        try:
            while not inflater.eof and position < len(view):
                chunk: bytes | memoryview = view[position : position + _IN]
                position += len(chunk)
                while not inflater.eof:
                    room = min(_OUT, max_bytes + 1 - total)
                    piece = inflater.decompress(chunk, room)
                    total += len(piece)
                    if piece:
                        pieces.append(piece)
                    if total > max_bytes:
                        raise LimitExceededError(
                            f"{label} inflates past the limit of {max_bytes / 1e6:,.0f} MB; nothing was stored. "
                            "Split the file, or raise FLYWHEEL_MAX_UPLOAD_MB."
                        )
                    chunk = inflater.unconsumed_tail
                    if not chunk and len(piece) < room:
                        break  # this input is used up and nothing is pending: feed the next
        except zlib.error as exc:
            raise _refused(label, _zlib_reason(exc, member)) from exc
        if not inflater.eof:
            raise _refused(
                label,
                f"it is cut short (member {member} ends without its trailer after {len(view):,} bytes; "
                f"{total:,} bytes were inflated and none was kept)",
            )
        start = position - len(inflater.unused_data)
    if len(pieces) == 1:
        return pa.py_buffer(pieces[0])
    out = np.empty(total, dtype=np.uint8)  # filled piece by piece, each piece freed once copied
    at = 0
    for index in range(len(pieces)):
        piece = pieces[index]
        pieces[index] = b""
        out[at : at + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        at += len(piece)
        del piece
    return pa.py_buffer(out)
