"""The web console of ``hookplane serve`` (``/console``): server-rendered pages over the
runtime's services, behind an admin-token sign-in. See ``docs/console.md``."""

from __future__ import annotations

from hookplane.runtime.console.routes import console_handlers, template_config

__all__ = ["console_handlers", "template_config"]
