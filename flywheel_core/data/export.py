"""CSV exports that a spreadsheet cannot turn into formulas (CSV injection, OWASP).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``). Every such
text cell, and every such column name, is prefixed with a single quote ``'`` so the sheet shows it as
text. Numeric cells are left alone: a number such as ``-1.5`` is written by the CSV writer from a
number, can hold no formula, and quoting it would turn it into text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DANGEROUS_PREFIXES", "neutralise_cell", "safe_csv"]

DANGEROUS_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text that a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    """``frame`` as UTF-8 CSV bytes with formula-like text cells and column names neutralised.

    Parameters
    ----------
    frame:
        Any DataFrame; text, object and categorical columns are checked cell by cell.
    index:
        Write the index as the first column (it is neutralised too).

    Returns
    -------
    The CSV file's bytes (header row first, RFC 4180 ``\\r\\n`` line endings, fields quoted only where needed).
    """
    import pandas as pd

    out = frame.copy()
    if index:
        out = out.reset_index()
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    for position in range(out.shape[1]):
        series = out.iloc[:, position]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(series.dtype):
            continue
        out.isetitem(position, series.astype(object).map(neutralise_cell).to_numpy())
    text: str = out.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8")
