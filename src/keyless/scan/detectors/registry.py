"""The ordered list of detectors; earlier ones win when two find the same text."""

from __future__ import annotations

from keyless.config import Config
from keyless.errors import ConfigError
from keyless.findings import Rule
from keyless.scan.detectors.assignment import AssignmentDetector
from keyless.scan.detectors.aws_secret_key import AwsSecretKeyDetector
from keyless.scan.detectors.base import Detector
from keyless.scan.detectors.credentials import (
    CREDENTIAL_DETECTORS,
    EncodedServiceAccountDetector,
)
from keyless.scan.detectors.custom import configured_detectors
from keyless.scan.detectors.patterns import DETECTORS
from keyless.scan.detectors.private_key import PrivateKeyDetector, ServiceAccountKeyDetector
from keyless.scan.detectors.upstream import plugin_detectors
from keyless.scan.detectors.url_credentials import UrlCredentialsDetector


def all_detectors(config: Config | None = None) -> list[Detector]:
    """Return every detector in priority order, less those the config disables."""
    detectors: list[Detector] = [
        ServiceAccountKeyDetector(),
        PrivateKeyDetector(),
        *DETECTORS,
        *CREDENTIAL_DETECTORS,
        EncodedServiceAccountDetector(),
        AwsSecretKeyDetector(),
        UrlCredentialsDetector(),
        *plugin_detectors(),
    ]
    detectors.append(AssignmentDetector())
    if config is not None and config.detectors:
        builtin = {d.rule.id for d in detectors}
        for definition in config.detectors:
            if definition.id in builtin:
                raise ConfigError(
                    f"{config.source}: detectors: id {definition.id!r} is the id of a "
                    "built-in rule",
                    hint="give the detector an id of its own",
                )
        detectors[-1:-1] = configured_detectors(config.detectors)
    if config is not None and config.disable:
        detectors = [d for d in detectors if d.rule.id not in config.disable]
    return detectors


def all_rules(config: Config | None = None) -> list[Rule]:
    """Return the rule of each detector, for reports that list rules."""
    return [d.rule for d in all_detectors(config)]
