"""Vault (and OpenBao) JWT login, secret reads and token revocation, through hvac.

Requests go through hvac's RawAdapter with its exceptions turned off, so keyless
gets each response's status. 412, 429, 5xx and connection failures are retried
with backoff. Any other failure is explained by keyless.exchange.vault_explain.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyless.errors import Error
from keyless.exchange.retry import Backoff, Retryable, call_with_retry
from keyless.exchange.state import Entry
from keyless.logs import logger
from keyless.secret import Secret

if TYPE_CHECKING:
    import requests

    from keyless.exchange.emit import Output
    from keyless.identity import IdentityToken

TOKEN_KIND = "vault-token"  # noqa: S105 - a state entry kind, not a credential

# Statuses worth another attempt: 412 (a performance standby has not caught up
# yet), 429 (rate limited) and every 5xx but 501 (Not Implemented, which a server
# that is not Vault returns and will return again).
_RETRY_STATUSES = {412, 429}


class VaultError(Error):
    """Vault rejected a request, or could not be reached."""


@dataclass(frozen=True)
class Connection:
    """How to reach Vault: address, namespace and TLS settings."""

    url: str
    namespace: str | None = None
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_skip_verify: bool = False
    timeout: float = 10.0

    def to_entry(self) -> dict[str, Any]:
        """Return the fields a state entry records; file paths are made absolute.

        `keyless revoke` may run from another working folder than `keyless vault`.
        """
        return {
            "url": self.url,
            "namespace": self.namespace,
            "ca_cert": _absolute(self.ca_cert),
            "client_cert": _absolute(self.client_cert),
            "client_key": _absolute(self.client_key),
            "tls_skip_verify": self.tls_skip_verify,
        }

    @classmethod
    def from_entry(cls, entry: Entry) -> Connection:
        return cls(
            url=str(entry["url"]),
            namespace=entry.get("namespace"),
            ca_cert=entry.get("ca_cert"),
            client_cert=entry.get("client_cert"),
            client_key=entry.get("client_key"),
            tls_skip_verify=bool(entry.get("tls_skip_verify")),
        )


def _absolute(path: str | None) -> str | None:
    return os.path.abspath(path) if path else None


def check_connection(connection: Connection) -> None:
    """Raise VaultError for an address or TLS file that cannot work, before any request."""
    from urllib.parse import urlsplit

    parts = urlsplit(connection.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VaultError(
            f"--url {connection.url!r} is not an http:// or https:// address",
            hint="pass the address with its scheme, such as https://vault.example.com:8200",
        )
    if parts.path.rstrip("/").endswith("/v1"):
        raise VaultError(
            f"--url {connection.url!r} ends in /v1, which keyless adds to every request",
            hint=f"pass the address without it: {connection.url.rstrip('/')[: -len('/v1')]}",
        )
    for option, path in (
        ("--ca-cert (VAULT_CACERT)", connection.ca_cert),
        ("--client-cert (VAULT_CLIENT_CERT)", connection.client_cert),
        ("--client-key (VAULT_CLIENT_KEY)", connection.client_key),
    ):
        if path and not Path(path).exists():
            raise VaultError(
                f"{option} {path}: no such file", hint="pass the path of an existing PEM file"
            )


@dataclass(frozen=True)
class SecretRequest:
    """One `--secret`: a path, a key (None for every key) and a name or name prefix."""

    path: str
    key: str | None
    name: str
    spec: str


@dataclass
class Login:
    """A Vault token from a JWT login, with what keyless needs to use and revoke it."""

    token: Secret
    accessor: str
    policies: list[str]
    ttl: int
    leases: list[Secret] = field(default_factory=list)


@dataclass(frozen=True)
class Mount:
    """The secrets engine mounted at `path` (with a trailing slash)."""

    path: str
    type: str
    kv_version: int | None


_SPEC = re.compile(r"^\s*(?P<path>[^\s|]+)(?:\s+(?P<key>[^\s|]+))?\s*(?:\|\s*(?P<name>\S*)\s*)?$")


def parse_secret_specs(values: list[str]) -> list[SecretRequest]:
    """Parse `--secret` values; each may hold several specs separated by ';' or newlines.

    Forms: `PATH KEY | NAME` (one key), `PATH KEY` (NAME is KEY in upper case),
    `PATH | PREFIX_` or `PATH * | PREFIX_` (every key, each named PREFIX_ + KEY in
    upper case).
    """
    requests_: list[SecretRequest] = []
    for value in values:
        for raw in re.split(r"[;\n]", value):
            spec = raw.strip()
            if spec:
                requests_.append(_parse_spec(spec))
    return requests_


_SPEC_FORMS = (
    "write 'PATH KEY | NAME' for one key, 'PATH KEY' to name it after the key, or "
    "'PATH | PREFIX_' for every key, each named PREFIX_ + KEY"
)


def _parse_spec(spec: str) -> SecretRequest:
    match = _SPEC.match(spec)
    if match is None:
        raise VaultError(f"--secret {spec!r} is invalid", hint=_SPEC_FORMS)
    path = match["path"].strip("/")
    key = match["key"]
    name = match["name"]
    if key is None and name is None:
        raise VaultError(
            f"--secret {spec!r} names a path but no key and no name prefix", hint=_SPEC_FORMS
        )
    if key in (None, "*"):
        if not name:
            # Without a prefix, the secret's keys alone would choose the variable names,
            # so whoever can write the secret could set PATH or LD_PRELOAD.
            raise VaultError(
                f"--secret {spec!r} reads every key of {path}, but gives no name prefix",
                hint=f"add a prefix, such as '{path} | APP_'",
            )
        return SecretRequest(path=path, key=None, name=name, spec=spec)
    if not name:
        name = env_name(key)
    return SecretRequest(path=path, key=key, name=name, spec=spec)


def check_request_names(requests_: list[SecretRequest], *, allow_reserved: bool) -> None:
    """Raise EmitError for a --secret whose name, or name prefix, is invalid or reserved."""
    from keyless.exchange.emit import check_name

    for request in requests_:
        check_name(request.name, allow_reserved=allow_reserved)


def env_name(key: str) -> str:
    """Return KEY as an environment variable name: upper case, other characters as '_'."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", key).upper()
    return "_" + name if name[:1].isdigit() else name


class VaultClient:
    """A connection to one Vault server, with retries and explained failures."""

    def __init__(self, connection: Connection, backoff: Backoff | None = None) -> None:
        import hvac.adapters

        from keyless import http

        self.connection = connection
        self.backoff = backoff or Backoff()
        if connection.tls_skip_verify:
            import urllib3

            # keyless warns once about the skipped verification; urllib3 would warn
            # again on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            verify: bool | str = False
        else:
            verify = connection.ca_cert or True
        cert = None
        if connection.client_cert:
            cert = (connection.client_cert, connection.client_key or connection.client_cert)
        session = http.session(timeout=connection.timeout)
        # hvac takes `verify` and `cert` from a session it is given and ignores its own
        # arguments (hvac 2.4), so they are set on the session too.
        session.verify = verify
        session.cert = cert
        self.adapter = hvac.adapters.RawAdapter(
            base_uri=connection.url,
            cert=cert,
            verify=verify,
            timeout=connection.timeout,
            namespace=connection.namespace,
            ignore_exceptions=True,
            session=session,
        )
        self._mounts: dict[str, Mount] | None = None

    def close(self) -> None:
        self.adapter.close()

    def use_token(self, token: Secret) -> None:
        self.adapter.token = token.reveal()

    def request(
        self, method: str, path: str, *, describe: str, payload: dict[str, Any] | None = None
    ) -> requests.Response:
        """Send a request, retrying 412, 429, 5xx and connection failures.

        Returns the last response, successful or not; a connection failure that
        outlasts the deadline raises VaultError.
        """
        import requests

        started = time.monotonic()

        def attempt() -> requests.Response:
            # Each attempt waits at most until the deadline (but at least a second), so
            # a server that accepts the connection and never answers cannot outlast it.
            remaining = self.backoff.deadline - (time.monotonic() - started)
            timeout = min(self.connection.timeout, max(remaining, 1.0))
            try:
                response: requests.Response = self.adapter.request(
                    method, f"/v1/{path}", json=payload, timeout=timeout
                )
            except requests.exceptions.SSLError as exc:
                raise _tls_error(self.connection, exc) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise Retryable(f"cannot reach {self.connection.url}: {_reason(exc)}") from exc
            except requests.RequestException as exc:
                raise VaultError(f"Vault: request to {self.connection.url} failed: {exc}") from exc
            except OSError as exc:
                # requests raises a bare OSError for a CA bundle or client certificate
                # it cannot load.
                raise VaultError(
                    f"Vault: cannot use the TLS files for {self.connection.url}: {exc}",
                    hint="check --ca-cert, --client-cert and --client-key",
                ) from exc
            status = response.status_code
            if status in _RETRY_STATUSES or (status >= 500 and status != 501):
                raise Retryable(
                    f"HTTP {response.status_code} {_first_error(response)}".rstrip(), response
                )
            return response

        def give_up(exc: Retryable) -> requests.Response:
            if isinstance(exc.last, requests.Response):
                return exc.last
            raise VaultError(
                f"Vault: {exc.reason}",
                hint="check --url (VAULT_ADDR) and that the runner can reach Vault",
            )

        return call_with_retry(
            attempt, backoff=self.backoff, describe=f"Vault: {describe}", on_give_up=give_up
        )

    def login(self, token: IdentityToken, *, mount: str, role: str | None) -> Login:
        """Log in with the job's identity token at `auth/<mount>`; return the Vault token.

        A rejected login raises VaultError explained with the token's claims.
        """
        from keyless.exchange.vault_explain import explain_login

        payload: dict[str, Any] = {"jwt": token.raw.reveal()}
        if role:
            payload["role"] = role
        mount = mount.strip("/")
        response = self.request(
            "POST", f"auth/{mount}/login", describe=f"login at auth/{mount}", payload=payload
        )
        if response.status_code != 200:
            raise explain_login(
                response.status_code, _first_error(response), token.claims, mount=mount, role=role
            )
        auth = _json(response).get("auth") or {}
        client_token = Secret(str(auth.get("client_token", "")))
        if not client_token:
            raise VaultError(f"Vault: the login at auth/{mount} returned no token")
        self.use_token(client_token)
        return Login(
            token=client_token,
            accessor=str(auth.get("accessor", "")),
            policies=[str(p) for p in auth.get("policies") or []],
            ttl=int(auth.get("lease_duration") or 0),
        )

    def mount_of(self, path: str, login: Login | None = None) -> Mount:
        """Return the secrets engine mounted at the start of `path`, as the Vault CLI finds it.

        The first call lists the mounts the token can see, in one request. A path
        under none of them is looked up on its own, so Vault's error states the reason.
        """
        if self._mounts is None:
            self._mounts = self._list_mounts()
        for prefix in sorted(self._mounts, key=len, reverse=True):
            if path == prefix.rstrip("/") or path.startswith(prefix):
                return self._mounts[prefix]
        response = self.request(
            "GET", f"sys/internal/ui/mounts/{path}", describe=f"find the mount of {path}"
        )
        if response.status_code != 200:
            raise _read_error(path, None, response, login)
        mount = _mount_from(_json(response).get("data") or {}, str(path))
        self._mounts[mount.path] = mount
        return mount

    def _list_mounts(self) -> dict[str, Mount]:
        response = self.request("GET", "sys/internal/ui/mounts", describe="list the mounts")
        if response.status_code != 200:
            return {}
        engines = (_json(response).get("data") or {}).get("secret") or {}
        return {
            str(prefix): _mount_from(info, str(prefix))
            for prefix, info in engines.items()
            if isinstance(info, dict)
        }

    def read(self, request: SecretRequest, login: Login) -> dict[str, Any]:
        """Read the secret at `request.path` and return its key/value data.

        KV v2 paths are written as the CLI writes them (`secret/app`); the API form
        (`secret/data/app`) is accepted too. A lease, when the engine returns one,
        is added to `login.leases` so revoking the token is known to revoke it.
        """
        mount = self.mount_of(request.path, login)
        api_path = api_path_for(request.path, mount)
        # TODO: engines that issue on write with parameters (pki/issue/ROLE with a
        # common_name, ssh/creds/ROLE with an ip) need a POST; only GET reads work.
        response = self.request("GET", api_path, describe=f"read {request.path}")
        if response.status_code == 404 and mount.kv_version == 2:
            _raise_if_deleted(request.path, response)
        if response.status_code != 200:
            raise _read_error(request.path, api_path, response, login)
        body = _json(response)
        lease_id = str(body.get("lease_id") or "")
        if lease_id:
            login.leases.append(Secret(lease_id))
            logger.info(
                "Vault: %s issued a lease of %s s", request.path, body.get("lease_duration")
            )
        data = body.get("data") or {}
        if mount.kv_version == 2:
            data = data.get("data") or {}
            if not data:
                raise VaultError(
                    f"Vault: {request.path} has no current version (deleted or destroyed)",
                    hint="write a new version, or undelete it with `vault kv undelete`",
                )
        if not isinstance(data, dict):
            raise VaultError(f"Vault: {request.path} returned data that is not key/value")
        return data

    def revoke_self(self) -> bool:
        """Revoke the client's token and every lease it created.

        Returns False when Vault no longer accepts the token (already revoked or
        expired), which leaves nothing to revoke.
        """
        response = self.request("POST", "auth/token/revoke-self", describe="revoke the token")
        if response.status_code in (200, 204):
            return True
        if response.status_code == 403:
            return False
        raise VaultError(
            f"Vault: revoking the token failed: HTTP {response.status_code} "
            f"{_first_error(response)}",
            hint="run `keyless revoke` again; the token expires at the end of its TTL anyway",
        )


def _mount_from(info: dict[str, Any], path: str) -> Mount:
    """Return a Mount from the mount description Vault returns for `path`."""
    engine = str(info.get("type", ""))
    options = info.get("options") or {}
    version = None
    if engine in ("kv", "generic"):
        version = 2 if str(options.get("version", "1")) == "2" else 1
    return Mount(path=str(info.get("path") or path), type=engine, kv_version=version)


def api_path_for(path: str, mount: Mount) -> str:
    """Return the API path for a CLI-style path: KV v2 reads go through `<mount>data/`."""
    if mount.kv_version != 2:
        return path
    rest = path[len(mount.path) :] if path.startswith(mount.path) else ""
    if rest.startswith("data/"):
        return path
    return f"{mount.path}data/{rest}"


def outputs_for(request: SecretRequest, data: dict[str, Any]) -> list[Output]:
    """Return the named values a `--secret` selects from the secret's data."""
    from keyless.exchange.emit import Output

    if request.key is None:
        return [Output(request.name + env_name(k), Secret(_text(v))) for k, v in data.items()]
    if request.key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise VaultError(
            f"Vault: {request.path} has no key {request.key!r} (keys: {keys})",
            hint=f"fix the key in --secret {request.spec!r}",
        )
    return [Output(request.name, Secret(_text(data[request.key])))]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def revoke_entry(entry: Entry) -> None:
    """Revoke the Vault token a state entry records (the cleanup for TOKEN_KIND)."""
    deadline = float(entry.get("retry_deadline", 60.0))
    client = VaultClient(Connection.from_entry(entry), Backoff(deadline=deadline))
    try:
        client.use_token(Secret(str(entry["token"])))
        if client.revoke_self():
            logger.info(
                "Vault: revoked token %s and its %d leases",
                entry.get("accessor", "?"),
                len(entry.get("leases", [])),
            )
        else:
            logger.info(
                "Vault: token %s was already revoked or expired", entry.get("accessor", "?")
            )
    finally:
        client.close()


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _first_error(response: requests.Response) -> str:
    errors = _json(response).get("errors") or []
    return str(errors[0]).strip() if errors else ""


def _reason(exc: Exception) -> str:
    text = str(exc)
    markers = (
        "Connection refused",
        "timed out",
        "Name or service not known",
        "certificate verify failed",
        "hostname mismatch",
    )
    for marker in markers:
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _tls_error(connection: Connection, exc: Exception) -> VaultError:
    text = str(exc).lower()
    if "wrong version number" in text or "record layer failure" in text:
        # OpenSSL reports this when a plain HTTP response arrives in place of a TLS ServerHello.
        plain = connection.url.replace("https://", "http://", 1)
        return VaultError(
            f"Vault: {connection.url} does not speak TLS (it answered the TLS handshake "
            "with something else, most likely plain HTTP)",
            hint=f"if the listener has TLS disabled, use {plain}; otherwise check the port",
        )
    if "certificate required" in text or "bad certificate" in text or "unknown ca" in text:
        sent = "the client certificate it was sent" if connection.client_cert else "no client one"
        return VaultError(
            f"Vault: {connection.url} requires a TLS client certificate it trusts, and "
            f"rejected {sent}",
            hint="pass --client-cert and --client-key (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY) "
            "with a certificate signed by a CA the Vault listener trusts",
        )
    if "eof occurred in violation of protocol" in text:
        # A server that rejects the client certificate may close the connection
        # before the client reads its alert, most often while a request body is sent.
        return VaultError(
            f"Vault: {connection.url} closed the TLS connection during the handshake",
            hint="if the listener requires client certificates, pass --client-cert and "
            "--client-key (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY); otherwise check that "
            "--url points at a TLS listener",
        )
    return VaultError(
        f"Vault: TLS verification of {connection.url} failed: {_reason(exc)}",
        hint="pass the CA that signed Vault's certificate with --ca-cert (VAULT_CACERT)",
    )


def _raise_if_deleted(path: str, response: requests.Response) -> None:
    """Raise VaultError when a KV v2 404 is for a deleted or destroyed latest version.

    Vault then returns 404 with the version's metadata, where `deletion_time` is set
    (or `destroyed` is true).
    """
    metadata = (_json(response).get("data") or {}).get("metadata") or {}
    if not isinstance(metadata, dict):
        return
    version = metadata.get("version", "?")
    if metadata.get("destroyed"):
        raise VaultError(
            f"Vault: the latest version ({version}) of {path} was destroyed",
            hint="write a new version of the secret",
        )
    if metadata.get("deletion_time"):
        raise VaultError(
            f"Vault: the latest version ({version}) of {path} was deleted at "
            f"{metadata['deletion_time']}",
            hint=f"undelete it with `vault kv undelete -versions={version} {path}`, or "
            "write a new version",
        )


def _read_error(
    path: str,
    api_path: str | None,
    response: requests.Response,
    login: Login | None = None,
) -> VaultError:
    from keyless.exchange.vault_explain import explain_read

    return explain_read(path, api_path, response.status_code, _first_error(response), login)
