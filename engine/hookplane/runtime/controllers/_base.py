"""The controllers' common base: marks its handlers with the controller's path for the
access log (:data:`hookplane.runtime.logs.CONTROLLER_PATH`)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Router

from hookplane.runtime.logs import CONTROLLER_PATH


class BaseController(Controller):
    def __init__(self, owner: Router) -> None:
        super().__init__(owner)
        self.opt: dict[str, Any] = {**(self.opt or {}), CONTROLLER_PATH: self.path}
