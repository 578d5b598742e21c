"""Modules whose main function shares their name (`pamnet.predict(...)`).

Importing `pamnet.predict` binds the *module* to the package attribute, which
would shadow the top-level function of the same name; making the module
callable keeps `pamnet.predict(...)` working either way.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, func_name: str) -> None:
    module = sys.modules[module_name]

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(self, func_name)(*args, **kwargs)

    module.__class__ = CallableModule
