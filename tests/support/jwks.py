"""A JWKS document served on 127.0.0.1 that can really go away, for Vault's `jwks_url`.

The server speaks HTTP/1.0, so it closes each connection after one response. The
shared OIDC issuer speaks HTTP/1.1, so a client that kept a connection open to it
could still fetch keys after the issuer was stopped. This server stops responding
as soon as `stop()` returns.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

from jwt.algorithms import RSAAlgorithm

DISCOVERY_PATH = "/.well-known/openid-configuration"


class JWKSServer:
    """Serve the public keys of the given signers as a JWKS at `url`, until stopped.

    The OIDC discovery document is served too, at `issuer` + DISCOVERY_PATH, naming
    `issuer` and `url`, for Vault's `oidc_discovery_url`.
    """

    def __init__(self, keys: list[tuple[Any, str]]) -> None:
        entries = []
        for private_key, kid in keys:
            entry = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
            entry.update(kid=kid, use="sig", alg="RS256")
            entries.append(entry)
        body = json.dumps({"keys": entries}).encode()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                content = server.discovery() if self.path == DISCOVERY_PATH else body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.issuer}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def discovery(self) -> bytes:
        document = {
            "issuer": self.issuer,
            "jwks_uri": self.url,
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        return json.dumps(document).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
