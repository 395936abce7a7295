"""Import detect-secrets plugin modules without importing requests.

detect-secrets imports `requests` at module level, to verify secrets with their
services. keyless never verifies a secret, and importing requests (with urllib3,
http.client and ssl) takes about 90 ms, four times the plugins themselves: more
than a small history scan spends on everything else, in every worker process.

So while the plugin modules load, `sys.modules["requests"]` is a stand-in with
the one attribute detect-secrets 1.5 reads at import time (`Response`, in the return
annotations of verify functions). The stand-in is removed afterwards, so a later
`import requests` anywhere gets the real package. Code that would use the stand-in
runs only when verifying. If a future detect-secrets reads anything else at import
time, that import fails, everything it loaded is dropped, and the module is
imported again with the real requests.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def import_plugin(name: str) -> ModuleType:
    """Import module `name` (a detect-secrets plugin), with requests stood in if unloaded."""
    with _lock:
        if name in sys.modules or "requests" in sys.modules:
            return importlib.import_module(name)
        stand_in = ModuleType("requests", "Stands in for requests while plugins load.")
        stand_in.Response = object  # type: ignore[attr-defined]
        before = set(sys.modules)
        sys.modules["requests"] = stand_in
        module: ModuleType | None = None
        try:
            module = importlib.import_module(name)
        except Exception:
            for loaded in set(sys.modules) - before:
                del sys.modules[loaded]
        finally:
            if sys.modules.get("requests") is stand_in:
                del sys.modules["requests"]
        return module if module is not None else importlib.import_module(name)
