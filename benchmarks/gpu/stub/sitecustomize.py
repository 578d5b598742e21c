"""Device-only harness: stand-ins for packages the GPU image lacks (rdkit, gemmi, ...).
pamnet imports them; training from the QM9 cache runs none of their code. Any attribute
or call gives another stand-in, so a use would fail later, not here."""

import importlib.abc
import importlib.machinery
import sys
import types

NAMES = ("rdkit", "gemmi", "streamlit", "captum", "py3Dmol", "plotly", "qm9pack")


class _Dummy:
    def __init__(self, *a, **k):
        pass

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Dummy()

    def __call__(self, *a, **k):
        return _Dummy()

    def __mro_entries__(self, bases):
        return (object,)

    def __or__(self, other):
        return self

    __ror__ = __or__

    def __iter__(self):
        return iter(())


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__path__ = []
        m.__getattr__ = lambda name: (
            _Dummy() if not name.startswith("__") else (_ for _ in ()).throw(AttributeError(name))
        )
        return m

    def exec_module(self, module):
        pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in NAMES:
            return importlib.machinery.ModuleSpec(name, _Loader(), is_package=True)
        return None


sys.meta_path.insert(0, _Finder())
