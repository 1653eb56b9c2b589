"""The runtime's HTTP layer: thin ``Controller`` classes fed by dependency injection
(``Provide``), refusing with domain errors that :mod:`hookplane.runtime.problems` maps to
statuses. ``create_app`` mounts them."""

from __future__ import annotations

from hookplane.runtime.controllers.admin import ADMIN, AdminController
from hookplane.runtime.controllers.health import HealthController
from hookplane.runtime.controllers.inbound import InboundController
from hookplane.runtime.controllers.records import RecordsController

__all__ = ["ADMIN", "AdminController", "HealthController", "InboundController", "RecordsController"]
