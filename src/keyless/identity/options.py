"""Command-line options shared by every command that reads the job's identity token."""

from __future__ import annotations

import argparse

from keyless.commands.options import add_option


def add_token_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add `--token-env NAME` and `--token-file PATH`, the explicit token sources.

    Their values go to `obtain_token(..., token_env=args.token_env,
    token_file=args.token_file)`. Without either, keyless requests the token from the
    CI platform.
    """
    add_option(
        parser,
        "--token-env",
        metavar="NAME",
        help="read the OIDC token from environment variable NAME instead of requesting it from the "
        "CI platform (on GitLab CI: which *_ID_TOKEN variable to use)",
    )
    add_option(
        parser,
        "--token-file",
        metavar="PATH",
        help="read the OIDC token from the file at PATH instead of requesting it from the "
        "CI platform",
    )
