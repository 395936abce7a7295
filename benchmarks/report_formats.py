"""Time rendering one report in every output format.

Usage: python benchmarks/report_formats.py [FINDINGS]   (default 20000)

The findings are synthetic secrets spread over severities and files, enough to hit the
SARIF cap of 5,000 results and the GitHub annotation limits.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime, timezone

from keyless.findings import Confidence, Finding, Location, Severity
from keyless.logs import logger
from keyless.report import FORMATS, render
from keyless.report.model import Report
from keyless.secret import Secret


def make_report(count: int) -> Report:
    severities = list(Severity)
    findings = [
        Finding(
            rule_id=f"rule-{i % 7}",
            title=f"Rule {i % 7}",
            severity=severities[i % len(severities)],
            confidence=Confidence.HIGH,
            location=Location(path=f"src/module_{i % 500}.py", line=i % 900 + 1, column=5),
            remediation="Rotate it.",
            secret=Secret(f"benchmark-secret-{i:08d}"),
            message=f"Rule {i % 7} found",
        )
        for i in range(count)
    ]
    now = datetime.now(timezone.utc)
    return Report(kind="secrets", findings=findings, commit="0" * 40, started=now, finished=now)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    report = make_report(count)
    logger.setLevel(logging.ERROR)
    print(f"{count} findings")
    for name in FORMATS:
        start = time.perf_counter()
        text = render(name, report)
        elapsed = time.perf_counter() - start
        print(f"{name:12} {elapsed:7.3f} s  {len(text) / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
