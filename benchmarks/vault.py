"""Time `keyless vault` end to end against a minimal hvac script, and `keyless --help`.

Usage: python benchmarks/vault.py [ROUNDS]   (default 15)

Both sides run as fresh processes against the same OpenBao dev server, so interpreter
start-up and imports count. Each round, interleaved, does: read the identity token
from a file, log in through JWT auth, read three secrets (two KV v2, one KV v1), mask
them and append them to a GITHUB_ENV file. keyless also records its state file and
lists the mounts to find each path's engine, which the script has written in.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import fakes
from tests.exchange.conftest import AUDIENCE, ISSUER, make_signer
from tests.support import openbao

HVAC_SCRIPT = """
import os, sys
import hvac

client = hvac.Client(url=sys.argv[1])
with open(sys.argv[2]) as handle:
    client.auth.jwt.jwt_login(role="ci", jwt=handle.read().strip(), path="jwt")
app = client.secrets.kv.v2.read_secret_version(
    path="app", mount_point="secret", raise_on_deleted_version=True
)["data"]["data"]
multi = client.secrets.kv.v2.read_secret_version(
    path="multi", mount_point="secret", raise_on_deleted_version=True
)["data"]["data"]
legacy = client.secrets.kv.v1.read_secret(path="app", mount_point="kv1")["data"]
values = {"A": app["password"], "B": multi["password"], "C": legacy["password"]}
for value in values.values():
    print("::add-mask::" + value)
with open(os.environ["GITHUB_ENV"], "a") as handle:
    for name, value in values.items():
        handle.write(f"{name}={value}\\n")
"""


def configure(server: openbao.OpenBao, public_pem: str) -> None:
    server.write("sys/mounts/kv1", type="kv", options={"version": "1"})
    values = [fakes.random_string(24) for _ in range(3)]
    server.write("secret/data/app", data={"password": values[0]})
    server.write("secret/data/multi", data={"password": values[1]})
    server.write("kv1/app", password=values[2])
    policy = (
        'path "secret/data/*" { capabilities = ["read"] }\npath "kv1/*" { capabilities = ["read"] }'
    )
    server.write("sys/policies/acl/bench", policy=policy)
    server.write("sys/auth/jwt", type="jwt")
    server.write("auth/jwt/config", jwt_validation_pubkeys=[public_pem], bound_issuer=ISSUER)
    server.write(
        "auth/jwt/role/ci",
        role_type="jwt",
        user_claim="sub",
        bound_audiences=[AUDIENCE],
        token_ttl=300,
        token_policies=["bench"],
    )


def timed(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        signer = make_signer("bench")
        token_file = work / "id-token"
        token_file.write_text(signer.mint())
        (work / "runner").mkdir()
        environment = {
            "PATH": os.environ["PATH"],
            "HOME": temp,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ENV": str(work / "env"),
            "RUNNER_TEMP": str(work / "runner"),
        }
        for server in openbao.start(work):
            configure(server, signer.public_pem())
            keyless = [
                str(bin_dir / "keyless"),
                "vault",
                "--url",
                server.url,
                "--role",
                "ci",
                "--token-file",
                str(token_file),
                "--secret",
                "secret/app password | A",
                "--secret",
                "secret/multi password | B",
                "--secret",
                "kv1/app password | C",
            ]
            script = [sys.executable, "-c", HVAC_SCRIPT, server.url, str(token_file)]
            help_command = [str(bin_dir / "keyless"), "--help"]
            timed(keyless, environment)
            timed(script, environment)
            keyless_times, script_times, help_times = [], [], []
            for _ in range(rounds):
                keyless_times.append(timed(keyless, environment))
                script_times.append(timed(script, environment))
                help_times.append(timed(help_command, environment))
    keyless_median = statistics.median(keyless_times)
    script_median = statistics.median(script_times)
    print(f"rounds: {rounds}")
    print("| run | median | min | max |")
    print("| --- | --- | --- | --- |")
    for label, times in (
        ("keyless vault", keyless_times),
        ("hvac script", script_times),
        ("keyless --help", help_times),
    ):
        print(
            f"| {label} | {statistics.median(times) * 1000:.0f} ms "
            f"| {min(times) * 1000:.0f} ms | {max(times) * 1000:.0f} ms |"
        )
    print(f"ratio keyless / hvac (medians): {keyless_median / script_median:.2f}")


if __name__ == "__main__":
    main()
