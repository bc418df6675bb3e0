"""Pydantic building blocks shared by every config of greenroom: a strict frozen base model and
the checks several sections use (aliases, URLs, provider strings).

Error messages never echo the rejected input, because some inputs (secrets, HMAC keys) must not
reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from yarl import URL

__all__ = ["StrictConfig", "check_provider_model", "check_url", "rename_aliases"]

_PROVIDER_MODEL = re.compile(r"^[A-Za-z0-9_.-]+:\S+$")


class StrictConfig(BaseModel):
    """Shared settings: frozen, unknown fields rejected, inputs kept out of error messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    ALIASES: ClassVar[Mapping[str, str]] = {}
    """Other input spellings of fields (alias -> field), for models that accept them."""


def rename_aliases(data: Any, aliases: Mapping[str, str]) -> Any:
    """Map alternative spellings onto field names; giving both spellings is an error."""
    if not isinstance(data, Mapping):
        return data
    renamed = dict(data)
    for alias, name in aliases.items():
        if alias in renamed:
            if name in renamed:
                msg = f"{alias}: is an alias of {name}; give only one of them"
                raise ValueError(msg)
            renamed[name] = renamed.pop(alias)
    return renamed


def check_url(value: str | None, field_name: str) -> str | None:
    """`value` if it is an http(s) URL with a host (or None); else `ValueError` naming the field."""
    if value is None:
        return None
    valid = re.match(r"^https?://[^\s/]+\S*$", value) is not None
    if valid:
        try:
            valid = bool(URL(value).host)
        except ValueError:
            valid = False
    if not valid:
        msg = f"{field_name}: expected an http:// or https:// URL with a host"
        raise ValueError(msg)
    return value


def check_provider_model(value: str, field_name: str) -> str:
    """`value` if it reads `provider:model`; else `ValueError` naming the field."""
    if not _PROVIDER_MODEL.match(value):
        msg = f"{field_name}: expected 'provider:model' such as 'openai:gpt-4o-mini'"
        raise ValueError(msg)
    return value
