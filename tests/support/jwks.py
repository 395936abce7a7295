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


class JWKSServer:
    """Serve the public keys of the given signers as a JWKS at `url`, until stopped."""

    def __init__(self, keys: list[tuple[Any, str]]) -> None:
        entries = []
        for private_key, kid in keys:
            entry = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
            entry.update(kid=kid, use="sig", alg="RS256")
            entries.append(entry)
        body = json.dumps({"keys": entries}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
