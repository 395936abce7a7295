"""Fixtures for the tests of the test-support servers themselves."""

from tests.support.issuer import oidc_issuer, oidc_issuer_tls  # noqa: F401
