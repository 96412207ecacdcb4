"""Build the project's Dockerfile without a container daemon, and run what it built.

Debian's `buildah` (chroot isolation, `vfs` storage: no daemon, no overlay mounts, no user
namespaces) builds the Dockerfile unchanged, with its `PYTHON_IMAGE` build argument pointing at a
base made here by `mmdebstrap` (Debian's own python3) from this machine's apt sources. Both come
from `deploy/install-system-deps.sh`; building needs root.

When this machine reaches the package index through its own pip configuration and CA bundle, the
network part of that configuration (index URLs, trusted hosts, proxy, timeouts) and the CA bundle are
handed to the build's `pip wheel` as two read-only build secrets (`pip.conf`, `pip-ca.crt`), which the
Dockerfile mounts in its builder stage only: nothing of them reaches the image.

Everything is cached outside the repository, in CACHE (`/var/cache/failover-watcher-image`, or
`$FAILOVER_WATCHER_IMAGE_CACHE`): the base tarball and buildah's storage, keyed by the Debian suite and
the base's package list; the image is tagged by a digest of its inputs (the Dockerfile, and the
files `.dockerignore` lets into the context), so an unchanged tree is not rebuilt.

    python -m tests.deploy.image     # build (or find) the image and print its tag
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("FAILOVER_WATCHER_IMAGE_CACHE", "/var/cache/failover-watcher-image"))
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# Documentation and translations are not needed at run time (the image stays ~100 MB smaller).
BASE_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
IMAGE_REPOSITORY = "localhost/failover-watcher"
# pip options that say how to reach an index; anything naming a local path is not handed over.
PIP_NETWORK_OPTIONS = frozenset(
    {"index-url", "extra-index-url", "trusted-host", "proxy", "timeout", "default-timeout", "retries"}
)


def progress(message: str) -> None:
    """One line of progress in the test log (pytest shows it with -s, and on failure)."""
    print(f"[image {time.strftime('%H:%M:%S')}] {message}", flush=True)


def why_not() -> str | None:
    """The reason this machine cannot build and run the image, or None."""
    missing = [tool for tool in ("buildah", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} missing: run `sh deploy/install-system-deps.sh` (as root)"
    if os.geteuid() != 0:
        return "buildah with chroot isolation and vfs storage needs root here"
    return None


class Buildah:
    """`buildah` on the cache's own storage (vfs), so nothing touches the host's containers."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.cache = cache
        self.global_args = [
            "--storage-driver=vfs",
            f"--root={cache / 'storage'}",
            f"--runroot={cache / 'run'}",
        ]

    def command(self, *args: str) -> list[str]:
        return ["buildah", *self.global_args, *args]

    def __call__(self, *args: str, timeout: float = 120, quiet: bool = False) -> str:
        started = time.monotonic()
        cmd = self.command(*args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"buildah {args[0]} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        if not quiet:
            progress(f"buildah {args[0]}: {time.monotonic() - started:.1f} s")
        return done.stdout

    def image_id(self, name: str) -> str | None:
        done = subprocess.run(
            self.command("images", "--noheading", "--no-trunc", "--format", "{{.ID}}", name),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        ids = done.stdout.split()
        return ids[0] if done.returncode == 0 and ids else None

    def inspect(self, image: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self("inspect", "--type", "image", image, quiet=True))
        return data


@contextlib.contextmanager
def locked(cache: Path) -> Iterator[None]:
    """One build at a time on this machine (two test runs share the cache)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def apt_sources() -> list[str]:
    """This machine's apt sources for SUITE (files mmdebstrap reads as they are), or Debian's mirror."""
    candidates = [Path("/etc/apt/sources.list")]
    directory = Path("/etc/apt/sources.list.d")
    if directory.is_dir():
        candidates += sorted(p for p in directory.iterdir() if p.suffix in (".list", ".sources"))
    found = []
    for path in candidates:
        with contextlib.suppress(OSError):
            text = path.read_text()
            if re.search(rf"^\s*(deb\s.*\s{SUITE}\s|Suites:.*\b{SUITE}\b)", text, re.MULTILINE):
                found.append(str(path))
    return found or ["http://deb.debian.org/debian"]


def ensure_base(buildah: Buildah) -> str:
    """The base image (Debian SUITE's python3) in buildah's storage: made once, then reused."""
    sources = apt_sources()
    key = hashlib.sha256(
        json.dumps([SUITE, BASE_PACKAGES, BASE_DPKG_OPTIONS, [Path(s).name for s in sources]]).encode()
    ).hexdigest()[:12]
    name = f"localhost/failover-watcher-base:{SUITE}-{key}"
    if buildah.image_id(name):
        progress(f"base {name}: cached")
        return name
    tarball = buildah.cache / f"base-{SUITE}-{key}.tar"
    if not tarball.exists():
        progress(f"base: mmdebstrap {SUITE} {' '.join(BASE_PACKAGES)} from {', '.join(sources)}")
        started = time.monotonic()
        partial = tarball.with_suffix(".partial.tar")
        partial.unlink(missing_ok=True)  # an interrupted run's
        cmd = [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            # This machine's apt settings for its mirror (e.g. a snapshot's expired Release files).
            '--aptopt=Acquire::Check-Valid-Until "false"',
            *(f"--dpkgopt={option}" for option in BASE_DPKG_OPTIONS),
            "--format=tar",
            SUITE,
            str(partial),
            *sources,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed ({done.returncode}):\n{done.stderr[-4000:]}")
        partial.rename(tarball)
        progress(f"base: mmdebstrap {time.monotonic() - started:.1f} s, {tarball.stat().st_size >> 20} MiB")
    container = buildah("from", "--name", f"failover-watcher-base-{os.getpid()}", "scratch").strip()
    try:
        buildah("add", container, str(tarball), "/", timeout=300)
        buildah(
            "config",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--cmd",
            "python3",
            container,
            quiet=True,
        )
        buildah("commit", "--quiet", "--format", "docker", container, name, timeout=300)
    finally:
        subprocess.run(buildah.command("rm", container), capture_output=True, timeout=60, check=False)
    # Older bases (another key) and their tarballs go: the cache holds one.
    for old in buildah.cache.glob(f"base-{SUITE}-*.tar"):
        if old != tarball:
            old.unlink()
    return name


def context_files() -> list[Path]:
    """The files the Dockerfile's context holds under .dockerignore (an allow-list: `*`, then `!…`)."""
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore is expected to be an allow-list"
    files: list[Path] = []
    for line in lines[1:]:
        if line.startswith("!"):
            path = REPO / line[1:].rstrip("/")
            files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [p for p in files if "__pycache__" not in p.parts and p.suffix != ".pyc"]


def pip_handover(workdir: Path) -> list[str]:
    """`--secret` arguments giving the build this machine's way to the package index (maybe none)."""
    cmd = [sys.executable, "-m", "pip", "config", "list"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    options: dict[str, str] = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"[^.]*\.([\w-]+)='(.*)'", line.strip())
        if match:
            options[match.group(1)] = match.group(2)  # later lines (user, then environment) win
    handed = {k: v for k, v in options.items() if k in PIP_NETWORK_OPTIONS}
    if "extra-index-url" in handed:
        remote = [u for u in handed["extra-index-url"].split() if u.startswith(("http://", "https://"))]
        handed["extra-index-url"] = " ".join(remote)
        if not remote:
            del handed["extra-index-url"]
    if "index-url" in handed and not handed["index-url"].startswith(("http://", "https://")):
        del handed["index-url"]
    if "proxy" not in handed:
        proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
        if proxy:
            handed["proxy"] = proxy
    secrets: list[str] = []
    ca = options.get("cert") or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        handed["cert"] = "/run/secrets/pip-ca.crt"
        secrets.append(f"id=pip-ca.crt,src={ca}")
    left_out = sorted(set(options) - set(handed) - {"cert"})
    if not handed:
        progress("pip: no configuration of this machine to hand over; pip's defaults")
        return []
    parser = configparser.ConfigParser()
    parser["global"] = handed
    conf = workdir / "pip.conf"
    with conf.open("w") as handle:
        parser.write(handle)
    secrets.append(f"id=pip.conf,src={conf}")
    progress(f"pip: handing over {sorted(handed)} (left out, local to this machine: {left_out})")
    return [arg for secret in secrets for arg in ("--secret", secret)]


def forget_abandoned_containers(buildah: Buildah) -> None:
    """Working containers (full copies under vfs) left by a run that was killed: its pid is gone."""
    names = buildah("containers", "--noheading", "--format", "{{.ContainerName}}", quiet=True).split()
    for name in names:
        match = re.fullmatch(r"failover-watcher-(?:test|base)-(\d+)", name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            progress(f"removing {name}, left by a run that was killed")
            subprocess.run(buildah.command("rm", name), capture_output=True, timeout=120, check=False)


def ensure_image(buildah: Buildah | None = None) -> str:
    """The image built from the Dockerfile as it is now; its tag."""
    buildah = buildah or Buildah()
    with locked(buildah.cache):
        forget_abandoned_containers(buildah)
        base = ensure_base(buildah)
        digest = hashlib.sha256()
        digest.update((base + "\0").encode())
        for path in [REPO / "Dockerfile", REPO / ".dockerignore", *context_files()]:
            digest.update(f"{path.relative_to(REPO)}\0".encode() + path.read_bytes() + b"\0")
        tag = f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:16]}"
        if buildah.image_id(tag):
            progress(f"image {tag}: cached (same Dockerfile, context and base)")
            return tag
        with tempfile.TemporaryDirectory(prefix="failover-watcher-build-") as tmp:
            args = [
                "bud",
                "--isolation=chroot",
                "--format=docker",  # keeps HEALTHCHECK, which the OCI format has no field for
                "--pull-never",
                "--build-arg",
                f"PYTHON_IMAGE={base}",
                *pip_handover(Path(tmp)),
                "--tag",
                tag,
                "--file",
                str(REPO / "Dockerfile"),
                str(REPO),
            ]
            progress(f"building {tag} (buildah bud, chroot, vfs)")
            started = time.monotonic()
            done = subprocess.run(
                buildah.command(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one stream, in the order buildah wrote it
                text=True,
                timeout=900,
                check=False,
            )
            output = done.stdout.strip().splitlines()
            progress(f"build: {time.monotonic() - started:.1f} s, exit {done.returncode}; last lines:")
            for line in output[-8:]:
                progress(f"  | {line}")
            if done.returncode != 0:
                raise RuntimeError("buildah bud failed:\n" + "\n".join(output[-60:]))
        # Earlier builds of the project go (the cache keeps the base and the newest image only).
        images = buildah("images", "--noheading", "--format", "{{.Name}}:{{.Tag}}", quiet=True)
        for line in images.splitlines():
            if line.startswith(IMAGE_REPOSITORY + ":") and line != tag:
                subprocess.run(buildah.command("rmi", line), capture_output=True, timeout=120, check=False)
        subprocess.run(buildah.command("rmi", "--prune"), capture_output=True, timeout=120, check=False)
        return tag


if __name__ == "__main__":
    reason = why_not()
    if reason:
        sys.exit(reason)
    print(ensure_image())
