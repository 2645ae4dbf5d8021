"""The local build, checked against the local engine before `make deploy-local` deploys it.

    python -m tools.build check .aws-sam/local

The engine runs every handler on its own interpreter, on this machine's CPU: native wheels built
for another architecture (e.g. arm64 layers on an x86_64 laptop) deploy fine and then fail at
every call. This reads the platform tags of the wheels `sam build` put in the build and refuses
a build made for another CPU, naming the fix.
"""

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from tools.stack import machine_architecture

PLATFORM_ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def wheel_architectures(build_dir: Path) -> dict[str, set[str]]:
    """The CPU architectures of the native wheels in ``build_dir``, each with its packages."""
    found: dict[str, set[str]] = defaultdict(set)
    for wheel in build_dir.glob("**/*.dist-info/WHEEL"):
        package = wheel.parent.name.split("-")[0]
        for line in wheel.read_text(errors="replace").splitlines():
            if not line.startswith("Tag:"):
                continue
            platform_tag = line.split(":", 1)[1].strip().rsplit("-", 1)[-1]
            for suffix, architecture in PLATFORM_ARCHITECTURES.items():
                if platform_tag.endswith(suffix):
                    found[architecture].add(package)
    return dict(found)


def check(build_dir: Path, engine_architecture: str) -> str | None:
    """Why ``build_dir`` cannot run on an engine with ``engine_architecture``, or None."""
    if not (build_dir / "template.yaml").is_file():
        return f"there is no build in {build_dir}: run `make build-local`"
    foreign = {a: p for a, p in wheel_architectures(build_dir).items() if a != engine_architecture}
    if not foreign:
        return None
    architecture, packages = sorted(foreign.items())[0]
    overrides = f"LocalEmulator=true Architecture={engine_architecture}"
    return (
        f"{build_dir} was built for {architecture} ({', '.join(sorted(packages))}) but the local engine runs"
        f" {engine_architecture}: rebuild it for the engine with `make build-local`"
        f' (or sam build --config-env local --parameter-overrides "{overrides}")'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check"])
    parser.add_argument("build_dir", type=Path)
    args = parser.parse_args()
    problem = check(args.build_dir, machine_architecture())
    if problem:
        sys.exit(f"refusing to deploy: {problem}")


if __name__ == "__main__":
    main()
