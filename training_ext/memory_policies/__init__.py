"""Pluggable memory-selection policies for SAM2 video inference (see base.py).

A policy is configured by a mapping ``{name: <policy>, <parameter>: <value>, ...}``, e.g.
``{name: rcms, num_prev_frames_to_promote: 4, low_quality_threshold: 0.6}``; values may be
strings (from a command line) and are converted to the parameter's type.

A spec is checked where it enters (``sam2-eval``'s flags, ``sam2-train``'s launch check, a predictor
config read by the stock builder: ``make_policy`` in each) and is passed on unchanged as a plain
dict, which crosses Hydra and worker processes; nothing on the way checks it again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from training_ext.errors import UserError
from training_ext.memory_policies.base import MemoryPolicy, NoMemoryPolicy
from training_ext.memory_policies.quality_gate import QualityGatePolicy
from training_ext.memory_policies.rcms import RCMSPolicy

POLICIES: dict[str, type[MemoryPolicy]] = {
    cls.name: cls for cls in (NoMemoryPolicy, RCMSPolicy, QualityGatePolicy)
}


def make_policy(spec: Mapping[str, Any] | MemoryPolicy | None, where: str = "memory policy"):
    """The policy ``spec`` describes (``None``: no policy); a one-line UserError if it is bad."""
    if spec is None or isinstance(spec, MemoryPolicy):
        return spec or NoMemoryPolicy()
    params = dict(spec)
    name = params.pop("name", None)
    if name not in POLICIES:
        raise UserError(f"{where}: unknown policy {name!r}; choose one of {', '.join(POLICIES)}")
    cls = POLICIES[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise UserError(
            f"{where}: policy {name} has no parameter {unknown[0]!r} (parameters: {known})"
        )
    values = {key: _convert(where, name, key, value, fields[key]) for key, value in params.items()}
    try:
        return cls(**values)
    except UserError as error:
        raise UserError(f"{where}: policy {name}: {error}") from None


def policy_spec(policy: MemoryPolicy) -> dict[str, Any]:
    """The mapping that ``make_policy`` turns back into ``policy``."""
    return {"name": policy.name, **dataclasses.asdict(policy)}


def parse_policy_args(items: Iterable[str], where: str = "--memory-policy-args") -> dict:
    """``["key=value", ...]`` -> ``{key: value}`` (values stay strings)."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{where}: expected KEY=VALUE, got {item!r}")
        params[key.strip()] = value.strip()
    return params


def _convert(where: str, name: str, key: str, value: Any, field: dataclasses.Field) -> Any:
    kind = {"int": int, "float": float}.get(str(field.type), field.type)
    try:
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise UserError(
            f"{where}: policy {name} parameter {key} must be a {kind.__name__}, got {value!r}"
        ) from None


__all__ = ["POLICIES", "MemoryPolicy", "make_policy", "parse_policy_args", "policy_spec"]
