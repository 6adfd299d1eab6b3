"""Which column of a log plays which role: detected from common names, overridable by the user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flywheel_core.exceptions import DataValidationError, Problem

__all__ = ["OPTIONAL_ROLES", "REQUIRED_ROLES", "ROLES", "ColumnMap", "detect_columns"]

REQUIRED_ROLES = ("user", "timestamp", "event")
OPTIONAL_ROLES = ("item", "value", "session", "model_version", "score", "propensity")
ROLES = REQUIRED_ROLES + OPTIONAL_ROLES

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
_FEATURE_PREFIXES = ("f_", "feature_", "feat_")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class ColumnMap:
    """Which source column plays which role; ``features`` are extra model inputs."""

    roles: dict[str, str]
    features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"roles": dict(self.roles), "features": list(self.features)}


def detect_columns(names: list[str], overrides: dict[str, str] | None = None) -> ColumnMap:
    """Guess each role's column from common names; ``overrides`` (role -> column) win.

    Raises:
        DataValidationError: an override names a column the file does not have, or an unknown role.
    """
    overrides = dict(overrides or {})
    features = [c for c in overrides.pop("feature", "").split(",") if c]
    problems = []
    for role, column in overrides.items():
        if role not in ROLES:
            problems.append(Problem(f"unknown role '{role}' (roles: {', '.join(ROLES)}, feature)"))
        elif column and column not in names:
            problems.append(
                Problem(
                    f"role '{role}' is mapped to '{column}', which is not a column of the file "
                    f"(columns: {', '.join(names[:20])})"
                )
            )
    for column in features:
        if column not in names:
            problems.append(Problem(f"feature column '{column}' is not in the file"))
    if problems:
        raise DataValidationError(
            "The column mapping does not fit the file: " + "; ".join(p.describe() for p in problems), problems
        )
    roles = {role: column for role, column in overrides.items() if column}
    taken = set(roles.values())
    normalized = {_norm(n): n for n in names}
    for role in ROLES:
        if role in roles or role in overrides:
            continue
        for alias in _ALIASES[role]:
            found = normalized.get(alias)
            if found is not None and found not in taken:
                roles[role] = found
                taken.add(found)
                break
    if "user" not in roles and "session" in roles:
        roles["user"] = roles["session"]  # session-only logs (e.g. OTTO): each session is a user
    if not features:
        features = [n for n in names if n.lower().startswith(_FEATURE_PREFIXES) and n not in taken]
    return ColumnMap(roles=roles, features=tuple(features))
