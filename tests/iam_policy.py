"""A small IAM identity-policy evaluator: enough of AWS's policy logic to check infra/policies/.

What it implements (AWS IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"):
explicit Deny beats Allow, no matching Allow is an implicit deny; `Action` and `Resource` as a string
or a list, with `*` and `?` wildcards (actions case-insensitive, resources case-sensitive); `Condition`
with `StringEquals` and `StringLike` (a key missing from the request fails the condition). Anything
else the policies might use (`NotAction`, `NotResource`, other operators, `...IfExists`) raises, so
a template change this evaluator cannot judge fails the test instead of passing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# Calls AWS authorizes without any policy: "No permissions are required to perform this operation"
# (STS API reference, GetCallerIdentity).
NEEDS_NO_PERMISSION = frozenset({"sts:GetCallerIdentity"})


@dataclass(frozen=True)
class Request:
    """One authorization AWS would make: a principal's action on a resource, with condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        return cls(data["action"], data["resource"], tuple(sorted(data.get("context", {}).items())))


@dataclass(frozen=True)
class Grant:
    """One (statement, action, resource) an Allow statement names: the unit least privilege is judged by."""

    sid: str
    action: str
    resource: str


def load_policy(path: Path, values: Mapping[str, str]) -> dict[str, Any]:
    """A rendered policy with its `<PLACEHOLDERS>` filled in."""
    text = path.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    if "<" in text:
        raise ValueError(f"{path.name}: placeholders left unfilled: {sorted(set(re.findall(r'<[A-Z_/]+>', text)))}")
    return json.loads(text)


def statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    found = [found] if isinstance(found, dict) else found
    for statement in found:
        unsupported = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unsupported:
            raise ValueError(f"this evaluator does not implement {sorted(unsupported)}")
    return found


def grants(policy: Mapping[str, Any]) -> list[Grant]:
    return [
        Grant(statement.get("Sid", ""), action, resource)
        for statement in statements(policy)
        if statement["Effect"] == "Allow"
        for action in _listed(statement["Action"])
        for resource in _listed(statement["Resource"])
    ]


def matching_grants(policy: Mapping[str, Any], request: Request) -> list[Grant]:
    """The Allow grants that allow `request` (empty: denied); an explicit Deny empties it."""
    allowing = []
    for statement in statements(policy):
        if not _conditions_hold(statement.get("Condition", {}), dict(request.context)):
            continue
        for action in _listed(statement["Action"]):
            if not _matches(action, request.action, case_sensitive=False):
                continue
            for resource in _listed(statement["Resource"]):
                if _matches(resource, request.resource, case_sensitive=True):
                    if statement["Effect"] == "Deny":
                        return []
                    allowing.append(Grant(statement.get("Sid", ""), action, resource))
    return allowing


def is_allowed(policy: Mapping[str, Any], request: Request) -> bool:
    return request.action in NEEDS_NO_PERMISSION or bool(matching_grants(policy, request))


def _listed(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@cache
def _pattern(wildcard: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def _matches(wildcard: str, value: str, *, case_sensitive: bool) -> bool:
    return _pattern(wildcard, case_sensitive).fullmatch(value) is not None


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, keys in conditions.items():
        if operator not in ("StringEquals", "StringLike"):
            raise ValueError(f"this evaluator does not implement the condition operator {operator}")
        for key, expected in keys.items():
            if key not in context:
                return False
            values = _listed(expected)
            if operator == "StringEquals" and context[key] not in values:
                return False
            if operator == "StringLike" and not any(_matches(v, context[key], case_sensitive=True) for v in values):
                return False
    return True
