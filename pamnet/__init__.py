"""PAMNet Studio: the Physics-aware Multiplex GNN as a package.

Heavy submodules are imported lazily so `import pamnet` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
