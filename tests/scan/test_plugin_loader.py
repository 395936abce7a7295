"""detect-secrets plugins load without importing requests, and nothing else changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter, where requests is not imported yet."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(proc.stdout)
    return result


PATTERNS = """
from keyless.scan.detectors.upstream import plugin_detectors
patterns = {d.spec.module: [(p.pattern, p.flags) for p in d.load()] for d in plugin_detectors()}
"""


def test_plugins_load_without_requests() -> None:
    light = run_python(
        "import json, sys\n" + PATTERNS + "loaded = 'requests' in sys.modules\n"
        "import requests\n"
        "print(json.dumps({'patterns': patterns, 'loaded': loaded,\n"
        "    'real': hasattr(requests, 'Session')}))"
    )
    full = run_python(
        "import json, requests\n" + PATTERNS + "print(json.dumps({'patterns': patterns}))"
    )
    assert light["loaded"] is False
    assert light["real"] is True
    assert light["patterns"] == full["patterns"]
    assert len(full["patterns"]) == 9  # type: ignore[arg-type]


def test_import_needing_requests_gets_real_one() -> None:
    result = run_python(
        "import json, sys\n"
        "from keyless.scan.detectors.plugin_loader import import_plugin\n"
        "module = import_plugin('tests.scan.requests_at_import')\n"
        "import requests\n"
        "print(json.dumps({'same': module.SESSION is requests.Session,\n"
        "    'module': sys.modules['requests'].__name__, 'file': bool(requests.__file__)}))"
    )
    assert result == {"same": True, "module": "requests", "file": True}
