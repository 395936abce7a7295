"""Revoke what keyless issued in this job and delete the files it wrote.

Reads the state folder's record: revokes each Vault token (revoke-self, which also
revokes its leases), deletes the files keyless wrote and clears the names it
exported to GITHUB_ENV. Safe to run twice, and when nothing was issued.
"""

from __future__ import annotations

import argparse

from keyless.commands.options import add_option
from keyless.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `revoke` options."""
    add_option(
        parser,
        "--state-dir",
        metavar="DIR",
        help="folder of the record to undo (default: the one `keyless vault` uses)",
    )


def run(args: argparse.Namespace) -> int:
    """Undo every recorded entry; return 1 when some could not be undone."""
    from keyless.exchange.cleanup import undo
    from keyless.exchange.state import State, state_dir
    from keyless.logs import logger

    with State.open(state_dir(args.state_dir)) as state:
        count = len(state.entries)
        if count == 0:
            logger.info("nothing to revoke")
            return ExitCode.OK
        failures = undo(state)
    for failure in failures:
        logger.error("%s", failure)
    if failures:
        logger.error(
            "%d of %d recorded items could not be undone; they stay recorded for the next "
            "`keyless revoke`",
            len(failures),
            count,
        )
        return ExitCode.FINDINGS
    logger.info("revoked and deleted %d recorded items", count)
    return ExitCode.OK
