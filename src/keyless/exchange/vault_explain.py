"""Vault's rejections turned into a cause and a fix, next to the token's claims.

The messages matched here are those of the JWT auth plugin and the policy engine
shared by Vault and OpenBao (checked against OpenBao 2.7). An unrecognised message
is shown as Vault wrote it.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from keyless.exchange.vault import VaultError

if TYPE_CHECKING:
    from keyless.exchange.vault import Login

# Claims shown under every login failure: enough to compare with the role.
_SHOWN_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp")
_TIME_CLAIMS = ("iat", "nbf", "exp")

_BOUND_CLAIM = re.compile(r'claim "(?P<claim>[^"]+)" does not match any associated bound claim')
_MISSING_CLAIM = re.compile(r'claim "(?P<claim>[^"]+)" is missing')
_USER_CLAIM = re.compile(r'claim "(?P<claim>[^"]+)" not found in token')
_ROLE_NOT_FOUND = re.compile(r'role "(?P<role>[^"]*)" could not be found')
# Vault failing to reach the issuer: the JWKS at login ("fetching keys", "get keys
# failed") or the discovery document when it builds the validator (OpenBao 2.7.2:
# "error configuring token validator: keyset configuration error: Get ...").
_JWKS_FAILURES = re.compile(
    r"fetching keys|get keys failed|keyset configuration error|error configuring token validator"
)


def format_claim(claims: dict[str, Any], name: str) -> str:
    """Return a claim's value as shown to users; times also in UTC and relative to now."""
    if name not in claims:
        return "(absent)"
    value = claims[name]
    if name in _TIME_CLAIMS and isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        offset = int(value - time.time())
        relative = f"in {offset} s" if offset >= 0 else f"{-offset} s ago"
        return f"{value} ({moment}, {relative} by this machine's clock)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def claims_table(claims: dict[str, Any], extra: tuple[str, ...] = ()) -> str:
    """Return the token's identifying claims, one `name: value` line each."""
    names = [*_SHOWN_CLAIMS, *(name for name in extra if name not in _SHOWN_CLAIMS)]
    width = max(len(name) for name in names)
    lines = [f"  {name.ljust(width)}  {format_claim(claims, name)}" for name in names]
    return "The token's claims:\n" + "\n".join(lines)


def explain_login(
    status: int, message: str, claims: dict[str, Any], *, mount: str, role: str | None
) -> VaultError:
    """Return the error for a rejected JWT login, with its cause and fix."""
    role_text = f"role {role!r}" if role else "the mount's default role"
    where = f"auth/{mount}"
    explained = _explain_claims(message, claims, role_text, where, role)
    if explained is None:
        explained = _explain_setup(status, message, claims, role_text, where)
    summary, hint, extra = explained
    return VaultError(f"{summary}\n{claims_table(claims, extra)}", hint=hint)


# (summary, hint, claims to show besides the usual ones)
_Explanation = tuple[str, str, tuple[str, ...]]


def _explain_claims(
    message: str, claims: dict[str, Any], role_text: str, where: str, role: str | None
) -> _Explanation | None:
    """Explain a rejection caused by one of the token's claims, or return None."""
    aud = format_claim(claims, "aud")
    if "no audiences bound to the role" in message:
        summary = f"Vault: {role_text} has no bound_audiences, but the token has aud {aud}"
        hint = (
            "Vault 1.16.3+ and OpenBao reject a token with an aud claim unless the role "
            f"binds audiences: set bound_audiences={_audiences(claims)} on "
            f"{where}/role/{role or 'ROLE'}"
        )
        return summary, hint, ()
    if "audience claim does not match" in message or "invalid audience" in message:
        summary = f"Vault: the token's aud {aud} is not in the bound_audiences of {role_text}"
        hint = (
            "request the token for one of the role's bound_audiences with --audience, "
            "or add this aud to the role's bound_audiences"
        )
        return summary, hint, ()
    if match := _BOUND_CLAIM.search(message):
        claim = match["claim"]
        summary = (
            f"Vault: the token's {claim} claim is {format_claim(claims, claim)!r}, which the "
            f"bound_claims of {role_text} do not allow"
        )
        hint = (
            f"run the job from a context the role allows, or add this value to the role's "
            f"bound_claims for {claim} (bound_claims_type=glob allows wildcards)"
        )
        return summary, hint, (claim,)
    if match := _MISSING_CLAIM.search(message):
        claim = match["claim"]
        summary = f"Vault: {role_text} binds the claim {claim}, which the token does not have"
        hint = f"bind claims this CI platform puts in its tokens (claims present: {_names(claims)})"
        return summary, hint, ()
    if match := _USER_CLAIM.search(message):
        claim = match["claim"]
        summary = f"Vault: the user_claim of {role_text} is {claim!r}, which the token lacks"
        hint = f"set the role's user_claim to a claim the token has ({_names(claims)})"
        return summary, hint, ()
    if "token is expired" in message:
        summary = f"Vault: the token expired at {format_claim(claims, 'exp')}"
        hint = (
            "request a fresh token just before logging in; if the times above look wrong, "
            "compare the clocks of the runner and Vault (the role's clock_skew_leeway "
            "allows some skew)"
        )
        return summary, hint, ()
    if "issued in the future" in message or "invalid issued at" in message:
        summary = (
            f"Vault: the token was issued in the future (iat {format_claim(claims, 'iat')}) "
            "by Vault's clock, so Vault's clock is behind the issuer's"
        )
        hint = "synchronise the clocks (NTP), or raise the role's clock_skew_leeway"
        return summary, hint, ()
    if "invalid subject" in message:
        summary = (
            f"Vault: the token's sub {format_claim(claims, 'sub')!r} is not the bound_subject "
            f"of {role_text}"
        )
        hint = (
            "run the job from the context the role's bound_subject names, or fix "
            f"bound_subject on {where}/role/{role or 'ROLE'} (bound_claims can match sub "
            "with globs)"
        )
        return summary, hint, ()
    if "not yet valid" in message:
        summary = (
            f"Vault: the token is not valid yet (nbf {format_claim(claims, 'nbf')}), so "
            "Vault's clock is behind the issuer's"
        )
        hint = "synchronise the clocks (NTP), or raise the role's clock_skew_leeway"
        return summary, hint, ()
    if "invalid issuer" in message:
        summary = f"Vault: the token's issuer {format_claim(claims, 'iss')!r} is not bound_issuer"
        hint = f"set bound_issuer in {where}/config to the CI's issuer"
        return summary, hint, ()
    return None


def _explain_setup(
    status: int, message: str, claims: dict[str, Any], role_text: str, where: str
) -> _Explanation:
    """Explain a rejection caused by Vault's configuration or the request itself."""
    if match := _ROLE_NOT_FOUND.search(message):
        summary = f"Vault: no role {match['role']!r} on {where}"
        hint = f"check --role, or list the roles with `vault list {where}/role`"
    elif message == "missing role":
        summary = f"Vault: no --role given and {where} has no default_role"
        hint = f"pass --role, or set default_role in {where}/config"
    elif "namespace not found" in message:
        summary = f"Vault: the namespace given with --namespace does not exist ({message})"
        hint = "check --namespace (VAULT_NAMESPACE); nested namespaces are written as a/b"
    elif status in (404, 405, 501) or (status >= 400 and not message):
        summary = (
            f"Vault: login at {where} failed with HTTP {status} and no Vault error, so --url "
            "may not point at a Vault server"
        )
        hint = (
            "check --url (VAULT_ADDR): give the server's address without /v1, such as "
            "https://vault.example.com:8200, and check --mount"
        )
    elif _JWKS_FAILURES.search(message):
        summary = f"Vault cannot fetch the issuer's signing keys (JWKS) for {where}: {message}"
        hint = (
            "Vault itself must reach jwks_url or oidc_discovery_url of "
            f"{where}/config; check its network, proxy and jwks_ca_pem"
        )
    elif "signature" in message:
        summary = f"Vault: the token's signature does not verify against {where}: {message}"
        hint = (
            "check that jwks_url, oidc_discovery_url or jwt_validation_pubkeys in "
            f"{where}/config belong to the issuer {format_claim(claims, 'iss')!r}"
        )
    elif status == 403:
        summary = f"Vault: permission denied on {where}/login"
        hint = (
            "no JWT auth method is mounted there in this namespace: check --mount and "
            "--namespace (VAULT_NAMESPACE)"
        )
    else:
        summary = f"Vault: login at {where} failed: HTTP {status} {message}".rstrip()
        hint = "compare the role's bound claims with the token's claims below"
    return summary, hint, ()


def explain_read(
    path: str, api_path: str | None, status: int, message: str, login: Login | None
) -> VaultError:
    """Return the error for a failed read of `path` (sent as `api_path`).

    `api_path` is None when the mount of `path` could not be looked up, so whether
    it is a KV v2 mount (whose API paths contain `data/`) is unknown.
    """
    if status == 403:
        policies = ", ".join(login.policies) if login and login.policies else "unknown"
        if api_path is None:
            return VaultError(
                f"Vault: permission denied reading {path}: the token's policies ({policies}) "
                f"grant nothing under it, not even a look-up of its mount",
                hint=f"add {_kv_stanzas(path)} to a policy of the role, or fix the path "
                "in --secret",
            )
        return VaultError(
            f"Vault: permission denied reading {path}: the token's policies ({policies}) "
            f'do not grant "read" on {api_path}',
            hint=f'add path "{api_path}" {{ capabilities = ["read"] }} to a policy of the '
            "role, or fix the path in --secret",
        )
    if status == 404:
        read_as = f" (read as {api_path})" if api_path else ""
        return VaultError(
            f"Vault: no secret at {path}{read_as}",
            hint="check the path; KV v2 paths are written as the Vault CLI writes them "
            "(secret/app), and the API form (secret/data/app) works too",
        )
    return VaultError(f"Vault: reading {path} failed: HTTP {status} {message}".rstrip())


def _kv_stanzas(path: str) -> str:
    """Return the policy stanzas that grant reading `path` on a KV v2 or a KV v1 mount."""
    mount, _, rest = path.partition("/")
    if rest.startswith("data/"):
        return f'path "{path}" {{ capabilities = ["read"] }}'
    return (
        f'path "{mount}/data/{rest}" {{ capabilities = ["read"] }} for a KV v2 mount '
        f'(path "{path}" for KV v1 or another engine)'
    )


def _audiences(claims: dict[str, Any]) -> str:
    """Return the token's audiences as `vault write` takes them: comma-separated."""
    aud = claims.get("aud", "AUDIENCE")
    return ",".join(str(item) for item in aud) if isinstance(aud, list) else str(aud)


def _names(claims: dict[str, Any]) -> str:
    return ", ".join(sorted(claims)) or "none"
