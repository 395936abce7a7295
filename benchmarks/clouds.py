"""Time `keyless aws` end to end against a boto3 script, and how fast a refusal fails.

Usage: python benchmarks/clouds.py [ROUNDS]   (default 15)

Both sides run as fresh processes, so interpreter start-up and imports count.
Success rounds, interleaved: read the identity token from a file, call
AssumeRoleWithWebIdentity on one moto server on 127.0.0.1, and write the three
credentials as JSON. Refusal rounds: `keyless aws` against a local stub that
returns STS's AccessDenied error (not retried) and IDPCommunicationError (retried
with jittered backoff, 4 attempts).
"""

from __future__ import annotations

import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.jwts import claims_for, mint
from tests.support.moto import moto_server

ROLE = "arn:aws:iam::123456789012:role/bench"
BOTO3_SCRIPT = """
import json, sys
import boto3

client = boto3.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1")
with open(sys.argv[2]) as handle:
    token = handle.read().strip()
answer = client.assume_role_with_web_identity(
    RoleArn=sys.argv[3], RoleSessionName="bench", WebIdentityToken=token
)["Credentials"]
with open(sys.argv[4], "w") as handle:
    json.dump({k: answer[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}, handle)
"""
ERROR_XML = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
    "<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>bench</RequestId></ErrorResponse>"
)


def stub_server(status: int, code: str, message: str) -> http.server.ThreadingHTTPServer:
    body = ERROR_XML.format(code=code, message=message).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(command: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - start, result.returncode


def summary(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms / {min(samples) * 1000:.0f} ms"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    python = sys.executable
    keyless = [python, "-m", "keyless"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        token = work / "token"
        token.write_text(mint(claims_for("sts.amazonaws.com", exp=int(time.time()) + 3600)))
        script = work / "boto3_exchange.py"
        script.write_text(BOTO3_SCRIPT)
        state = ["--state-dir", str(work / "state")]
        keyless_times, boto3_times = [], []
        with moto_server(work / "moto.log") as url:
            aws = [*keyless, "aws", "--role-arn", ROLE, "--sts-endpoint", url]
            aws += ["--token-file", str(token), "--export", "json", *state]
            for index in range(rounds):
                seconds, code = timed([*aws, "--output", str(work / f"k{index}.json")])
                assert code == 0, code
                keyless_times.append(seconds)
                command = [python, str(script), url, str(token), ROLE, str(work / f"b{index}")]
                seconds, code = timed(command)
                assert code == 0, code
                boto3_times.append(seconds)
        refusals = {}
        for label, status, code_name, message in (
            ("AccessDenied (not retried)", 403, "AccessDenied", "Not authorized"),
            ("IDPCommunicationError (4 attempts)", 400, "IDPCommunicationError", "no JWKS"),
        ):
            server = stub_server(status, code_name, message)
            endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
            command = [*keyless, "aws", "--role-arn", ROLE, "--sts-endpoint", endpoint]
            command += ["--token-file", str(token), *state]
            samples = []
            for _ in range(max(3, rounds // 3)):
                seconds, code = timed(command)
                assert code == 2, code
                samples.append(seconds)
            server.shutdown()
            refusals[label] = samples
    print(f"rounds: {rounds}")
    print(f"keyless aws (median / min): {summary(keyless_times)}")
    print(f"boto3 script (median / min): {summary(boto3_times)}")
    ratio = statistics.median(keyless_times) / statistics.median(boto3_times)
    print(f"ratio of medians: {ratio:.2f}")
    for label, samples in refusals.items():
        print(f"refusal, {label} (median / min): {summary(samples)}")


if __name__ == "__main__":
    main()
