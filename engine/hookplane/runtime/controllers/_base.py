"""The controllers' common base: marks its handlers with the controller's path for the
access log (:data:`hookplane.runtime.logs.CONTROLLER_PATH`)."""

from __future__ import annotations

from litestar import Controller
from litestar.handlers.base import BaseRouteHandler

from hookplane.runtime.logs import CONTROLLER_PATH


class BaseController(Controller):
    def get_route_handlers(self) -> list[BaseRouteHandler]:
        """The controller's handlers, each marked with its path. On the handlers, not the
        controller: the ``OPTIONS`` handlers Litestar adds to a route inherit the
        controller's options but carry the route's whole path already."""
        handlers = super().get_route_handlers()
        for handler in handlers:
            handler.opt = {**handler.opt, CONTROLLER_PATH: self.path}
        return handlers
