"""Which column of a log plays which role: detected from common names and the first rows, overridable.

A role takes one column, except the id roles (user, item, session), which can take a key built from several
columns (``user=age+country+device``); a column holds at most one role. A log with no user column can
take its users from the session column, or be one anonymous user (both declared, and reported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.exceptions import DataValidationError, Problem

__all__ = [
    "KEY_ROLES",
    "KEY_SEPARATOR",
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "ROLES",
    "USER_FROM",
    "ColumnMap",
    "detect_columns",
]

REQUIRED_ROLES = ("user", "timestamp", "event")
OPTIONAL_ROLES = ("item", "value", "session", "model_version", "score", "propensity")
ROLES = REQUIRED_ROLES + OPTIONAL_ROLES
KEY_ROLES = ("user", "item", "session")  # roles that take a key built from several columns
KEY_SEPARATOR = "\x1f"  # ASCII unit separator between the parts of such a key; a part holding it is refused
USER_FROM = ("session", "anonymous")
ANONYMOUS = "anonymous"

_ALIASES: dict[str, tuple[str, ...]] = {
    "user": (
        "user",
        "userid",
        "uid",
        "customer",
        "customerid",
        "visitorid",
        "visitor",
        "accountid",
        "memberid",
        "clientid",
        "vehicleid",
        "player",
        "playerid",
    ),
    "timestamp": (
        "timestamp",
        "ts",
        "time",
        "eventtime",
        "datetime",
        "date",
        "createdat",
        "tsms",
        "eventtimestamp",
        "occurredat",
        "when",
    ),
    "event": ("event", "eventtype", "type", "action", "interaction", "signal", "feedback", "eventname"),
    "item": (
        "item",
        "itemid",
        "product",
        "productid",
        "aid",
        "article",
        "articleid",
        "track",
        "trackid",
        "song",
        "songid",
        "movieid",
        "contentid",
        "doc",
        "docid",
        "sku",
        "intent",
    ),
    "value": ("value", "rating", "seconds", "duration", "dwell", "dwellseconds", "amount", "stars"),
    "session": ("session", "sessionid", "visitid"),
    "model_version": ("modelversion", "model", "version", "variant"),
    "score": ("score", "modelscore", "prediction", "confidence", "uncertainty", "probability"),
    "propensity": ("propensity", "pscore", "propensityscore", "actionprob", "actionprobability", "loggingprob"),
}
# Outcome columns that carry the event when no column is named like one (a 0/1 click, a label, a rating).
_OUTCOMES = (
    "click",
    "clicked",
    "clicks",
    "isclick",
    "label",
    "converted",
    "conversion",
    "purchased",
    "liked",
    "outcome",
    "reward",
    "target",
    "rating",
    "stars",
)
_BINARY = {"0", "1", "true", "false", "yes", "no", "0.0", "1.0"}
_FEATURE_PREFIXES = ("f_", "feature_", "feat_")
_ISO_DATE = r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}.*)?$"
_MIN_ROWS_FOR_STATS = 20  # fewer sample rows say nothing about uniqueness


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class ColumnMap:
    """Which source column plays which role; ``features`` are extra model inputs.

    ``roles`` names each role's column (a key of several columns reads ``a+b+c``; its parts are in
    ``keys``). ``user_from`` is ``"session"`` (each session is a user) or ``"anonymous"`` (one user for
    every row, and no ``user`` entry in ``roles``), else empty.
    """

    roles: dict[str, str]
    features: tuple[str, ...] = ()
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    user_from: str = ""

    def sources(self, role: str) -> tuple[str, ...]:
        """The source columns of ``role`` (several for a key, none if unmapped)."""
        if role in self.keys:
            return self.keys[role]
        return (self.roles[role],) if role in self.roles else ()

    def columns(self) -> list[str]:
        """Every source column the mapping reads, once each, in role order then features."""
        seen: dict[str, None] = {}
        for role in ROLES:
            seen.update(dict.fromkeys(self.sources(role)))
        seen.update(dict.fromkeys(self.features))
        return list(seen)

    def has(self, role: str) -> bool:
        return role in self.roles or (role == "user" and self.user_from == ANONYMOUS)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": dict(self.roles), "features": list(self.features)}
        if self.keys:
            out["keys"] = {role: list(parts) for role, parts in self.keys.items()}
        if self.user_from:
            out["user_from"] = self.user_from
        return out


@dataclass(frozen=True)
class _Stats:
    """What the first rows say about a column (all values read as text)."""

    rows: int
    distinct: int
    row_index: bool  # consecutive integers, one per row: a pandas index or a row number
    binary: bool  # 0/1, true/false, yes/no
    dates: bool  # every value an ISO date or time

    @property
    def unique_per_row(self) -> bool:
        return self.rows >= _MIN_ROWS_FOR_STATS and self.distinct == self.rows


def _stats(sample: pa.Table | None) -> dict[str, _Stats]:
    if sample is None or sample.num_rows == 0:
        return {}
    out = {}
    for name in sample.column_names:
        column = sample.column(name)
        if not pa.types.is_string(column.type):
            try:
                column = pc.cast(column, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue  # a nested or binary Parquet column: no role is guessed from it
        text = pc.utf8_trim_whitespace(column.combine_chunks())
        distinct = pc.unique(text)
        index = False
        if len(distinct) == len(text) >= 2 and pc.all(pc.match_substring_regex(text, r"^\d{1,12}$")).as_py():
            numbers = pc.cast(text, pa.int64())
            bounds = pc.min_max(numbers)
            index = bounds["max"].as_py() - bounds["min"].as_py() == len(text) - 1
        lowered = {str(v).lower() for v in distinct.to_pylist()} - {""} if len(distinct) <= 3 else set()
        out[name] = _Stats(
            rows=len(text),
            distinct=len(distinct),
            row_index=index,
            binary=bool(lowered) and lowered <= _BINARY and len(lowered) <= 2,
            dates=bool(pc.all(pc.match_substring_regex(text, _ISO_DATE)).as_py()),
        )
    return out


def _parse_overrides(
    names: list[str], overrides: dict[str, str]
) -> tuple[dict[str, str], dict[str, tuple[str, ...]], list[Problem]]:
    roles: dict[str, str] = {}
    keys: dict[str, tuple[str, ...]] = {}
    problems = []
    listed = ", ".join(names[:20])
    for role, column in overrides.items():
        if role not in ROLES:
            problems.append(Problem(f"unknown role '{role}' (roles: {', '.join(ROLES)}, feature)"))
            continue
        if not column:
            continue
        if column in names:
            roles[role] = column
            continue
        parts = tuple(p.strip() for p in column.split("+"))
        if len(parts) > 1 and role not in KEY_ROLES:
            problems.append(
                Problem(f"role '{role}' takes one column; only {', '.join(KEY_ROLES)} can join several ('a+b')")
            )
            continue
        missing = [p for p in parts if p not in names]
        if missing:
            problems.append(
                Problem(
                    f"role '{role}' is mapped to '{missing[0]}', which is not a column of the file (columns: {listed})"
                )
            )
            continue
        if len(set(parts)) != len(parts):
            problems.append(Problem(f"role '{role}' names the column '{parts[0]}' twice in its key"))
            continue
        roles[role] = "+".join(parts)
        keys[role] = parts
    return roles, keys, problems


def _two_roles(roles: dict[str, str], keys: dict[str, tuple[str, ...]]) -> None:
    holders: dict[str, list[str]] = {}
    for role, column in roles.items():
        for part in keys.get(role, (column,)):
            holders.setdefault(part, []).append(role)
    doubled = {column: held for column, held in holders.items() if len(held) > 1}
    if doubled:
        problems = [
            Problem(f"mapped to two roles, {' and '.join(repr(r) for r in held)}", column=column)
            for column, held in doubled.items()
        ]
        column, held = next(iter(doubled.items()))
        raise DataValidationError(
            f"Column '{column}' is mapped to two roles, {' and '.join(repr(r) for r in held)}: a column can hold "
            "one role. Map each role to its own column (for users taken from sessions, use --user-from session).",
            problems,
        )


def detect_columns(
    names: list[str],
    overrides: dict[str, str] | None = None,
    *,
    sample: pa.Table | None = None,
    user_from: str | None = None,
) -> ColumnMap:
    """Guess each role's column from common names and the first rows; ``overrides`` (role -> column) win.

    Parameters:
        overrides: role -> column; an id role may join several columns (``"a+b+c"``); ``feature`` takes
            a comma-separated list.
        sample: the first rows (text). Without it, detection goes by names alone. With it, neither the
            user nor the event is ever a row-number column (consecutive integers, one per row: a pandas
            index), the event is never a column unique per row, a log with no event-like name takes an
            outcome column (a 0/1 ``click``, ``label``, ``rating``) as its event, and one with no time-like
            name takes a column of ISO dates as its timestamp. Name matches for the other roles stand.
        user_from: ``"session"`` (each session is a user) or ``"anonymous"`` (one user for every row).

    Raises:
        DataValidationError: an override names a column the file does not have, an unknown role, or a
            column already holding another role; ``user_from`` conflicts with a mapped user.
    """
    overrides = dict(overrides or {})
    features = [c.strip() for c in overrides.pop("feature", "").split(",") if c.strip()]
    roles, keys, problems = _parse_overrides(names, overrides)
    if roles.get("user") and roles.get("user") == roles.get("session") and user_from in (None, "", "session"):
        del roles["user"]  # user and session on one column: users are sessions, said explicitly
        keys.pop("user", None)
        user_from = "session"
    for column in features:
        if column not in names:
            problems.append(Problem(f"feature column '{column}' is not in the file"))
    if user_from and user_from not in USER_FROM:
        problems.append(Problem(f"users can come from {' or '.join(USER_FROM)}, not '{user_from}'"))
    elif user_from and roles.get("user"):
        problems.append(Problem(f"the user is mapped to '{roles['user']}' and also asked to come from {user_from}"))
    if problems:
        raise DataValidationError(
            "The column mapping does not fit the file: " + "; ".join(p.describe() for p in problems), problems
        )
    _two_roles(roles, keys)
    stats = _stats(sample)
    taken = {part for role, column in roles.items() for part in keys.get(role, (column,))}

    def usable(column: str, role: str) -> bool:
        seen = stats.get(column)
        if column in taken:
            return False
        if seen is None:
            return True
        if role in ("user", "event") and seen.row_index:  # a row number is never who acted or what happened
            return False
        return not (role == "event" and seen.unique_per_row)

    normalized = {_norm(n): n for n in names}
    for role in ROLES:
        if role in roles or role in overrides or (role == "user" and user_from == ANONYMOUS):
            continue
        candidates = [normalized[a] for a in _ALIASES[role] if a in normalized]
        if role == "event":
            candidates += [normalized[a] for a in _OUTCOMES if a in normalized]
            candidates += [n for n in names if n in stats and stats[n].binary and n not in features]
        if role == "timestamp":  # guessed from the values: never a row number
            candidates += [n for n in names if n in stats and stats[n].dates and not stats[n].row_index]
        found = next((c for c in candidates if usable(c, role)), None)
        if found is not None:
            roles[role] = found
            taken.add(found)
    if (user_from == "session" or ("user" not in roles and user_from is None)) and "session" in roles:
        # each session is a user (session-only logs such as OTTO); declared in the map and in the report
        roles["user"] = roles["session"]
        if "session" in keys:
            keys["user"] = keys["session"]
        user_from = "session"
    elif user_from == "session":
        raise DataValidationError(
            "Users were asked to come from the session column, but no column is mapped to the session role. "
            "Map one (e.g. --column session=visit_id).",
            [Problem("user from session without a session column")],
        )
    if not features:
        features = [n for n in names if n.lower().startswith(_FEATURE_PREFIXES) and n not in taken]
    return ColumnMap(roles=roles, features=tuple(features), keys=keys, user_from=user_from or "")
