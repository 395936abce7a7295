"""The rule interface and the context rules report findings through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from keyless.audit.github import CompositeAction, Workflow
from keyless.audit.gitlab import Pipeline
from keyless.audit.nodes import Mark, Node, Scalar
from keyless.findings import Confidence, Finding, Location, Rule, Severity
from keyless.scan.engine import Engine
from keyless.secret import Secret


@dataclass
class Reported:
    """A finding and the lines where an allow comment would suppress it."""

    finding: Finding
    allow_lines: list[tuple[str, int]]
    extra_rule_ids: tuple[str, ...] = ()


@dataclass
class Context:
    """The rules' shared state besides the models: the secret engine and the findings."""

    engine: Engine
    reported: list[Reported] = field(default_factory=list)

    def report(
        self,
        rule: Rule,
        node: Node,
        *,
        key: str,
        message: str,
        remediation: str | None = None,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        at: tuple[Mark, Mark] | None = None,
        anchors: Sequence[Node] = (),
        secret: Secret | None = None,
        extra_rule_ids: tuple[str, ...] = (),
    ) -> Finding:
        """Record a finding at `node` (or at the `at` span inside it) and return it.

        `anchors` are enclosing nodes (a step, a job key) whose first line may carry
        an allow comment for this finding, besides the finding's line and the node's.
        """
        start, end = at if at is not None else (node.start, _end_of(node))
        finding = Finding(
            rule_id=rule.id,
            title=rule.title,
            severity=severity or rule.severity,
            confidence=confidence or rule.confidence,
            location=Location(
                path=node.path,
                line=start.line,
                column=start.column,
                end_line=end.line,
                end_column=end.column,
            ),
            remediation=remediation or rule.remediation,
            secret=secret,
            key=key if secret is None else "",
            message=message,
        )
        lines = [(node.path, start.line), (node.path, node.start.line)]
        lines.extend((anchor.path, anchor.start.line) for anchor in anchors)
        self.reported.append(Reported(finding, lines, extra_rule_ids))
        return finding


def _end_of(node: Node) -> Mark:
    # A block scalar's end mark is the start of the next line; report its first line only.
    if isinstance(node, Scalar) and node.style in ("|", ">"):
        return Mark(node.start.line, node.start.column + 1)
    return node.end


def fragment_span(scalar: Scalar, start: int, end: int) -> tuple[Mark, Mark]:
    """Return the file span of characters start..end of a scalar's value."""
    first = scalar.locate(start)
    last = scalar.locate(max(end - 1, start))
    return first, Mark(last.line, last.column + 1)


class AuditRule:
    """A rule: its metadata and checks per file kind; the defaults check nothing."""

    rule: Rule

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        """Report findings in a GitHub workflow."""

    def check_action(self, action: CompositeAction, context: Context) -> None:
        """Report findings in a composite action."""

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        """Report findings in a GitLab pipeline."""
