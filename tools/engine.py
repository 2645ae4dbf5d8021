"""The local AWS engine (ministack) on 127.0.0.1: start, stop, and the environment to reach it.

    python -m tools.engine up|down|status|env

It runs from its own Python 3.13 venv (.venv-engine), keeps its PID and log in .engine/, and
runs every Lambda handler on that interpreter (hence the cp313 Pillow layer).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 4566
REGION = "us-east-1"


@dataclass(frozen=True)
class LocalEngine:
    port: int = int(os.environ.get("PORT", DEFAULT_PORT))
    state_dir: Path = ROOT / ".engine"
    venv: Path = ROOT / ".venv-engine"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"ministack-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"ministack-{self.port}.log"

    @property
    def tmp_dir(self) -> Path:
        """Where the engine's Lambda workers unpack code and layers (tens of MB each): removed by
        `down`, so stopped engines leave nothing behind in the system's temporary folder."""
        return self.state_dir / f"tmp-{self.port}"

    def client_env(self) -> dict[str, str]:
        """What boto3, the AWS CLI and the SAM CLI need to talk to the engine."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_ministack/health", timeout=2) as response:
                return "services" in json.loads(response.read())
        except (OSError, ValueError):
            return False

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def up(self, timeout: float = 60) -> None:
        if self.pid() and self.healthy():
            print(f"ministack already running at {self.url} (pid {self.pid()})")
            return
        if self.healthy():
            sys.exit(f"something else already answers on port {self.port}: stop it, or use PORT=<free port>")
        self.state_dir.mkdir(exist_ok=True)
        self.tmp_dir.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TMPDIR": str(self.tmp_dir),
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "SFTP_HOST": "127.0.0.1",
            "IOT_MTLS_ENABLED": "0",
        }
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PYTHONPATH"):
            # the engine must not talk to itself (or to AWS) as a client, and its handlers must
            # import only what their code and layers bring
            env.pop(name, None)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [str(self.venv / "bin" / "ministack")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: `down` stops its Lambda workers too
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                sys.exit(f"ministack exited with code {process.returncode}; its log ends:\n{tail}")
            if self.healthy():
                print(f"ministack up at {self.url} (pid {process.pid}, log {self.log_file.relative_to(ROOT)})")
                return
            time.sleep(0.2)
        self.down()
        sys.exit(f"ministack did not answer on {self.url} within {timeout:.0f}s; see {self.log_file}")

    def down(self) -> None:
        pid = self.pid()
        if pid is None:
            print(f"ministack is not running on port {self.port}")
            self.pid_file.unlink(missing_ok=True)
            return
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        print(f"ministack stopped (pid {pid})")

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_ministack/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "reset"])
    args = parser.parse_args()
    engine = LocalEngine()
    if args.command == "up":
        engine.up()
    elif args.command == "down":
        engine.down()
    elif args.command == "reset":
        engine.reset()
        print("ministack state wiped")
    else:
        state = "healthy" if engine.healthy() else "not answering"
        print(f"ministack on {engine.url}: {state} (pid {engine.pid() or '-'})")


if __name__ == "__main__":
    main()
