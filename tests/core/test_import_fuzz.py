"""Fuzz: 2,000 random small CSVs are each read back exactly or refused with the project's error.

A seeded generator writes files with random quoting, embedded commas, quotes and line breaks, unicode, empty
fields, bad and huge timestamps, huge integers, NUL bytes, CR LF or LF line ends, ragged rows and unterminated
quotes. Python's csv module (strict) is the reference: a file it cannot read, or whose mapped values break
the rules (empty ids, line breaks or NULs in a mapped field, a time that is not one, a value that is not a
finite number a float holds exactly), must be refused with a ``FlywheelError``; any other file must store
exactly the reference's users, events, times and values, in order. Nothing may raise another exception.

Each file runs through ``prepare_import`` (the read and check step of the app's and the CLI's import) and its
staged events file, the one the store moves into place, is read back; every 25th also runs through
``ingest_file`` end to end and is read back from the store.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flywheel_core.data.api import ingest_file
from flywheel_core.data.ingest import prepare_import
from flywheel_core.exceptions import FlywheelError
from flywheel_core.storage.store import Store

FILES = 2_000
COLUMNS = {"user": "user", "timestamp": "timestamp", "event": "event", "value": "value"}
_ALPHABET = "ab yz,\"'é中😀\t-"
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def _text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return ""
    if roll < 0.08:
        return rng.choice(["a\nb", "a\rb", "a\r\nb", "a\x00b", " "])
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 6)))


def _stamp(rng: random.Random, epoch: bool) -> str:
    if rng.random() < 0.03:
        return rng.choice(["yesterday", "", "2026-02-30T00:00:00Z", "99999999999999999999", "0000-01-01", "1e400"])
    if epoch:
        seconds = rng.randint(1_600_000_000, 1_800_000_000)
        return str(seconds) if rng.random() < 0.8 else f"{seconds}.{rng.randint(0, 999)}"
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    return rng.choice([day, f"{day}T{clock}Z", f"{day} {clock}", f"{day}T{clock}.{rng.randint(0, 999999):06d}+02:00"])


def _value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.2:
        return ""
    if roll < 0.25:
        return rng.choice(["nan", "inf", "abc", str(2**53 + 1), "-" + str(2**60), "1e5", "  3 "])
    return str(round(rng.uniform(-100, 100), rng.randint(0, 3)))


def _file(rng: random.Random) -> bytes:
    epoch = rng.random() < 0.3
    out = io.StringIO()
    writer = csv.writer(
        out,
        quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
        lineterminator=rng.choice(["\n", "\r\n"]),
    )
    writer.writerow(["user", "timestamp", "event", "value", "note"])
    for _ in range(rng.randint(1, 12)):
        row = [_text(rng), _stamp(rng, epoch), _text(rng), _value(rng), _text(rng) + rng.choice(["", "\n", '"'])]
        if rng.random() < 0.03:
            row = row[: rng.randint(1, 4)] if rng.random() < 0.5 else [*row, "extra"]
        writer.writerow(row)
    data = out.getvalue()
    if rng.random() < 0.03:
        data = data.rstrip("\r\n") + ',"unterminated' + rng.choice(["", "\n"])
    if rng.random() < 0.3:
        data = data.rstrip("\r\n")  # no line end after the last row
    return data.encode()


def _per_unit(middle: float) -> float:
    """Microseconds per unit of a column of Unix times, told apart by the median's size (as documented)."""
    return 1e6 if middle < 1e11 else 1e3 if middle < 1e14 else 1e-3 if 1e17 <= middle < 2**63 else 1.0


def _micros(text: str, epoch: float | None) -> int | None:
    """The reference reading of one time (None: not a time the import can accept); ``epoch``: Unix times in
    units of that many microseconds, or None for ISO dates and times."""
    text = text.strip()
    if epoch is not None:
        if not _NUMBER.match(text) or not math.isfinite(float(text)):
            return None
        if _INTEGER.match(text):
            micros = int(text) * int(epoch) if epoch >= 1 else int(text) // 1000
        else:
            micros = round(float(text) * epoch)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros if -62_135_596_800_000_000 <= micros <= 253_402_300_799_999_999 else None


def _number(text: str) -> float | bool | None:
    """The reference reading of one value: a float, None (empty), or False (must be refused)."""
    text = text.strip()
    if not text:
        return None
    if not _NUMBER.match(text):
        return False
    number = float(text)
    if not math.isfinite(number) or (_INTEGER.match(text) and abs(number) >= 2**53):
        return False
    return number


def _expected(data: bytes) -> list[tuple[str, int, str, float | None]] | None:
    """The rows the import must store, or None when it must refuse the file."""
    try:
        text = data.decode("utf-8")
        if "\x00" in text:
            return None  # the import refuses a small file with a NUL byte anywhere as binary data
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    rows = [row for row in rows[1:] if row]  # pyarrow skips empty lines as well
    if not rows or any(len(row) != 5 for row in rows):
        return None
    numbers = [float(row[1]) for row in rows if _NUMBER.match(row[1].strip())]
    iso = sum(_micros(row[1], epoch=None) is not None for row in rows)
    epoch = _per_unit(statistics.median(map(abs, numbers))) if len(numbers) > iso else None
    out = []
    for user, stamp, event, value, _note in rows:
        micros, number = _micros(stamp, epoch), _number(value)
        for field in (user, stamp, event, value):
            if any(c in field for c in "\r\n\x00"):
                return None
        if not user.strip() or not event.strip() or micros is None or number is False:
            return None
        out.append((user, micros, event, number if isinstance(number, float) else None))
    return out


def _read_back(table: object) -> list[tuple[str, int, str, float | None]]:
    columns = table.to_pydict()  # type: ignore[attr-defined]
    stamps = [(t - datetime(1970, 1, 1, tzinfo=UTC)) for t in columns["timestamp"]]
    micros = [(d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds for d in stamps]
    values = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in columns["value"]]
    return sorted(zip(columns["user"], micros, columns["event"], values, strict=True), key=lambda r: r[1])


def _check_one(data: bytes, stage: Path, index: int, store: Store, workspace_id: int) -> str:
    expected = _expected(data)
    full = index % 25 == 0
    try:
        if full:
            ingest_file(store, workspace_id=workspace_id, source=data, dataset=f"d{index}", actor="t", columns=COLUMNS)
            frame = store.read_events(workspace_id=workspace_id, name=f"d{index}")
            import pyarrow as pa

            got = _read_back(pa.Table.from_pandas(frame[["user", "timestamp", "event", "value"]]))
        else:
            prepared = prepare_import(data, dataset=f"d{index}", columns=COLUMNS, stage_in=stage)
            try:
                if prepared.refusal is not None:
                    raise prepared.refusal
                assert prepared.staged is not None
                got = _read_back(pq.read_table(prepared.staged, columns=["user", "timestamp", "event", "value"]))
            finally:
                prepared.discard()
    except FlywheelError:
        assert expected is None, f"file {index} was refused but the reference reads it: {data!r}"
        return "refused"
    assert expected is not None, f"file {index} was stored but must be refused: {data!r}"
    want = sorted(expected, key=lambda r: r[1])
    assert [r[1] for r in got] == [r[1] for r in want], f"file {index}: times differ: {data!r}"
    assert sorted(got, key=repr) == sorted(want, key=repr), f"file {index}: stored {got} for {data!r}"
    return "stored"


def test_random_csvs_are_read_back_exactly_or_refused(store: Store, workspace_id: int, tmp_path: Path) -> None:
    rng = random.Random(20261201)
    outcomes = {"stored": 0, "refused": 0}
    for index in range(FILES):
        outcomes[_check_one(_file(rng), tmp_path, index, store, workspace_id)] += 1
    # Both outcomes are exercised in earnest (the generator is tuned so neither dominates).
    assert outcomes["stored"] > 300 and outcomes["refused"] > 300, outcomes


@pytest.mark.parametrize(
    "data",
    [
        b'user,timestamp,event,value,note\na,2026-01-01,click,1,"unterminated',
        b"user,timestamp,event,value,note\na,2026-01-01,click,9007199254740993,x\n",
        b"user,timestamp,event,value,note\na,99999999999999999999,click,1,x\nb,1767225600,click,2,y\n",
    ],
)
def test_hand_picked_edge_cases(data: bytes, store: Store, workspace_id: int, tmp_path: Path) -> None:
    assert _check_one(data, tmp_path, 1, store, workspace_id) == "refused"
