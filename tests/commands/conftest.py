"""Fixtures for the command tests: the local OIDC issuer."""

from tests.support.issuer import oidc_issuer, oidc_issuer_tls  # noqa: F401
