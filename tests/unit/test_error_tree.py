"""Every public error lives in ``hookplane.errors`` and in the tree its docstring draws.

Nine public errors (RecordNotFound, DatabaseUnavailable, TemplateSyntaxError, …) were defined
beside their raisers, outside the drawn tree, so a caller could not see in one place what it
may have to handle. A few exceptions are signals inside one module, never seen by a caller:
they are listed here with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import hookplane
from hookplane import errors

INTERNAL = {
    "hookplane.config.yamlio.YamlProblem": "the loader turns it into a ConfigError diagnostic",
    "hookplane.mapping._dates.ConversionError": "wrapped in a MappingError by the engine",
    "hookplane.presets._kit.Reject": "a preset's verdict; runtime.verify turns it into a "
                                     "VerifyResult",
    "hookplane.runtime.jobs.PermanentFailure": "the job runner's outcome of one job",
    "hookplane.runtime.jobs.RetryableFailure": "the job runner's outcome of one job",
}


def _modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(hookplane.__path__, "hookplane.")
            if not info.name.endswith("__main__")]  # running it would run the CLI


def test_every_public_exception_is_in_the_error_tree() -> None:
    importlib.import_module("hookplane.cli.main")  # the CLI registers its commands in order
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == name and not attribute.startswith("_")):
                qualified = f"{name}.{attribute}"
                if name != "hookplane.errors" and qualified not in INTERNAL:
                    outside.append(qualified)
    assert outside == [], ("define these in hookplane/errors.py (and draw them in its tree): "
                           + ", ".join(outside))


def test_the_drawn_tree_names_every_error() -> None:
    tree = errors.__doc__ or ""
    defined = [name for name, value in vars(errors).items()
               if inspect.isclass(value) and issubclass(value, BaseException)
               and value.__module__ == "hookplane.errors"]
    assert len(defined) >= 25
    drawn = set(tree.split())
    missing = [name for name in defined if name not in drawn]
    assert missing == [], f"not in the tree drawn in errors.py's docstring: {missing}"
    for name in defined:
        assert issubclass(getattr(errors, name), errors.HookplaneError), name
