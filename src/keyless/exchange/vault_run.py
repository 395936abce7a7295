"""The `keyless vault` flow: token, login, reads, then export or --exec, with revocation."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from keyless.ci import github
from keyless.errors import Error
from keyless.exchange.emit import EmitSettings, Output, check_names, emit, preflight
from keyless.exchange.retry import Backoff
from keyless.exchange.state import State, state_dir
from keyless.exchange.vault import (
    TOKEN_KIND,
    Connection,
    SecretRequest,
    VaultClient,
    outputs_for,
)
from keyless.logs import logger


@dataclass(frozen=True)
class Plan:
    """Everything `keyless vault` was asked to do."""

    connection: Connection
    mount: str
    role: str | None
    audience: str | None
    token_env: str | None
    token_file: str | None
    secrets: list[SecretRequest]
    export_token: bool = False
    retry_deadline: float = 60.0
    state_dir: str | None = None
    allow_reserved_names: bool = False


def fetch(plan: Plan, state: State) -> tuple[list[Output], str]:
    """Log in and read every secret; return the values and the token's state entry id.

    The token is recorded in `state` as soon as Vault issues it. If a read then
    fails, the token is revoked at once and its entry removed, because nothing
    was handed to the job yet.
    """
    from keyless.identity import obtain_token

    if plan.connection.tls_skip_verify:
        logger.warning(
            "Vault: TLS verification of %s is off (--tls-skip-verify), so anyone on the "
            "network path can read the token and secrets",
            plan.connection.url,
        )
    identity = obtain_token(
        plan.audience,
        token_env=plan.token_env,
        token_file=plan.token_file,
        mask_stream=sys.stderr,
    )
    client = VaultClient(plan.connection, Backoff(deadline=plan.retry_deadline))
    try:
        login = client.login(identity, mount=plan.mount, role=plan.role)
        github.add_mask(login.token, stream=sys.stderr)
        entry = state.add(
            TOKEN_KIND,
            token=login.token.reveal(),
            accessor=login.accessor,
            leases=[],
            retry_deadline=plan.retry_deadline,
            **plan.connection.to_entry(),
        )
        logger.info(
            "Vault: logged in at auth/%s as %s (policies %s, TTL %d s, accessor %s)",
            plan.mount.strip("/"),
            plan.role or "the default role",
            ", ".join(login.policies),
            login.ttl,
            login.accessor,
        )
        try:
            outputs: list[Output] = []
            for request in plan.secrets:
                outputs.extend(outputs_for(request, client.read(request, login)))
                entry["leases"] = [lease.reveal() for lease in login.leases]
            if plan.export_token:
                outputs.append(Output("VAULT_TOKEN", login.token))
            check_names(outputs, allow_reserved=plan.allow_reserved_names)
        except Error:
            _revoke_now(client, state, str(entry["id"]))
            raise
        logger.info("Vault: read %d values from %d secrets", len(outputs), len(plan.secrets))
        return outputs, str(entry["id"])
    finally:
        client.close()


def _revoke_now(client: VaultClient, state: State, entry_id: str) -> None:
    try:
        client.revoke_self()
    except Error as exc:
        logger.warning("Vault: could not revoke the token after the failure: %s", exc.message)
        return
    state.remove(entry_id)
    logger.info("Vault: revoked the token, since no value was handed over")


def run_export(plan: Plan, settings: EmitSettings) -> None:
    """Fetch the values and write them to the exports in `settings`.

    When writing fails, the token is revoked at once and what was written is
    undone, as after a failed read: the job cannot use values it never got.
    """
    from keyless.exchange.cleanup import undo

    preflight(settings)
    with State.open(state_dir(plan.state_dir)) as state:
        outputs, entry_id = fetch(plan, state)
        recorded = {str(entry["id"]) for entry in state.entries}
        try:
            emit(outputs, settings, state)
        except Exception:
            written = {str(e["id"]) for e in state.entries if str(e["id"]) not in recorded}
            for failure in undo(state, written | {entry_id}):
                logger.warning("%s", failure)
            if all(str(entry["id"]) != entry_id for entry in state.entries):
                logger.info("Vault: revoked the token, since the values could not be handed over")
            raise


def run_exec(plan: Plan, command: Sequence[str]) -> int:
    """Fetch the values, run `command` with them, then revoke; return its exit code."""
    from keyless.exchange.cleanup import undo
    from keyless.exchange.execute import run_command

    directory = state_dir(plan.state_dir)
    with State.open(directory) as state:
        outputs, entry_id = fetch(plan, state)

    def revoke() -> None:
        with State.open(directory) as state:
            for failure in undo(state, {entry_id}):
                logger.warning("%s", failure)

    return run_command(
        command, outputs, on_exit=revoke, allow_reserved_names=plan.allow_reserved_names
    )
