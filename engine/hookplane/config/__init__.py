"""The declarative model: pydantic models, YAML loading with positions, validation. Pure."""

from __future__ import annotations

from hookplane.config.loader import (
    Config,
    Resource,
    list_environments,
    load,
    load_all,
    load_environment,
)
from hookplane.config.models import SECTIONS, EnvironmentSpec

__all__ = [
    "SECTIONS",
    "Config",
    "EnvironmentSpec",
    "Resource",
    "list_environments",
    "load",
    "load_all",
    "load_environment",
]
