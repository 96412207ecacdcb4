"""The container image, built from the Dockerfile and run: no container daemon, Debian's buildah.

`tests/deploy/image.py` builds it (chroot isolation, vfs storage, a Debian python3 base made by
mmdebstrap, cached between runs). Then: the image's user is not root, its entrypoint answers
`--version`, and the daemon in it, on the shipped Kubernetes config (overlays/single's ConfigMap,
its Secret's two files mounted where the pod mounts them), becomes healthy by the image's own
`failover-watcher healthcheck`, run inside a container of the image. Only what points the daemon at
the simulator on this host's loopback (base URLs) and its port (tests share the machine) is
overridden, through the environment, as a pod's `env` would.

Skipped, with the reason, where buildah cannot run (not root, or not installed).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.deploy.image import Buildah, ensure_image, progress, why_not
from tests.deploy.test_kubernetes import _documents
from watcher import __version__
from watcher.sim import SimulatorState, default_seed, running_simulator

REASON = why_not()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"image not built: {REASON}")

ADMIN_TOKEN = "image-admin-token-0123456789abcdef"
UID = 10001


@pytest.fixture(scope="module")
def buildah() -> Buildah:
    return Buildah()


@pytest.fixture(scope="module")
def image(buildah: Buildah) -> str:
    return ensure_image(buildah)


@pytest.fixture(scope="module")
def config(buildah: Buildah, image: str) -> dict[str, Any]:
    inspected = buildah.inspect(image)
    size = buildah("images", "--noheading", "--format", "{{.Size}}", image, quiet=True).strip()
    progress(f"image {image}: {size}")
    docker: dict[str, Any] = inspected["Docker"]["config"]
    return docker


@pytest.fixture(scope="module")
def container(buildah: Buildah, image: str) -> Iterator[str]:
    """One working container of the image for every `buildah run` here (they may run at once)."""
    name = f"failover-watcher-test-{os.getpid()}"
    subprocess.run(buildah.command("rm", name), capture_output=True, timeout=60, check=False)
    buildah("from", "--pull-never", "--quiet", "--name", name, image, timeout=300)
    try:
        # buildah 1.28 mounts the image's VOLUME (an anonymous one) and a bind mount to the same
        # path in no fixed order, so the state would persist only sometimes: this working
        # container (not the image) forgets the VOLUME; the pod's volume is the bind mount.
        buildah("config", "--volume", "/var/lib/failover-watcher-", name)
        yield name
    finally:
        subprocess.run(buildah.command("rm", name), capture_output=True, timeout=120, check=False)


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (these are processes of this host: chroot isolation)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found += [int(child), *descendants(int(child))]
    return found


def cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def owner(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}").stat().st_uid
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(600)  # a cold build: base bootstrap + build, about 3 minutes here
def test_the_image_runs_as_a_non_root_user(config: dict[str, Any]) -> None:
    progress(f"buildah inspect: User={config['User']!r} Entrypoint={config['Entrypoint']}")
    user = config["User"]
    assert user, "no USER: the image would run as root"
    assert int(user.split(":")[0]) == UID
    assert config["Entrypoint"] == ["failover-watcher"]
    assert config["Healthcheck"]["Test"][:3] == ["CMD", "failover-watcher", "healthcheck"]
    assert "WATCHER_STATE__DIR=/var/lib/failover-watcher" in config["Env"]


@pytest.mark.timeout(600)
def test_the_entrypoint_answers_version(buildah: Buildah, container: str, config: dict[str, Any]) -> None:
    out = buildah("run", "--isolation=chroot", container, "--", *config["Entrypoint"], "--version")
    uid = buildah("run", "--isolation=chroot", container, "--", "id", "-u")
    assert out.strip() == f"failover-watcher {__version__}"
    assert uid.strip() == str(UID)


def pod_files(tmp_path: Path) -> tuple[dict[str, Any], list[str]]:
    """overlays/single's ConfigMap and Secret as the kubelet mounts them; (docs, --volume args)."""
    docs = _documents("single")
    config = tmp_path / "config/watcher.toml"
    config.parent.mkdir()
    config.write_text(docs["ConfigMap"]["data"]["watcher.toml"])
    config.chmod(0o644)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    values = {"client_secret": "sim-secret\n", "admin_token": ADMIN_TOKEN + "\n"}
    assert set(values) == set(docs["Secret"]["stringData"])
    for key, value in values.items():
        (secrets / key).write_text(value)
        os.chown(secrets / key, 0, UID)  # defaultMode 0440 with fsGroup 10001
        (secrets / key).chmod(0o440)
    secrets.chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, UID, UID)
    state.chmod(0o700)
    mounts = [
        f"type=bind,src={config},dst=/etc/failover-watcher/watcher.toml",  # read-only by default
        f"type=bind,src={secrets},dst=/etc/failover-watcher/secrets",
        f"type=bind,src={state},dst=/var/lib/failover-watcher,rw=true",
    ]
    return docs, [arg for m in mounts for arg in ("--mount", m)]


@pytest.mark.anyio
@pytest.mark.timeout(600)
async def test_the_daemon_in_the_image_becomes_healthy_on_the_kubernetes_config(
    buildah: Buildah, container: str, config: dict[str, Any], tmp_path: Path
) -> None:
    docs, volumes = pod_files(tmp_path)
    port = free_port()
    client_id = _client_id(docs)
    async with running_simulator(SimulatorState(default_seed(), client_id=client_id)) as sim:
        env = {
            "WATCHER_GENESYS__API_BASE_URL": sim.base_url,
            "WATCHER_GENESYS__LOGIN_BASE_URL": sim.base_url,
            "WATCHER_STATUSPAGE__URL": f"{sim.base_url}/api/v2/components.json",
            "WATCHER_SERVER__LISTEN": f"127.0.0.1:{port}",
        }
        env_args = [arg for k, v in env.items() for arg in ("--env", f"{k}={v}")]
        # What a container engine runs: the image's ENTRYPOINT + CMD, as its USER.
        cmd = buildah.command(
            "run", "--isolation=chroot", "--network=host", *env_args, *volumes, container,
            "--", *config["Entrypoint"], *config["Cmd"],
        )  # fmt: skip
        progress(f"starting the daemon: {' '.join(config['Entrypoint'] + config['Cmd'])}")
        log: list[str] = []
        async with await anyio.open_process(cmd, start_new_session=True) as process:

            async def read_log() -> None:
                assert process.stdout is not None
                async for chunk in process.stdout:
                    log.extend(chunk.decode(errors="replace").splitlines())

            async with anyio.create_task_group() as tg:
                tg.start_soon(read_log)
                try:
                    await _healthy_inside(buildah, container, port, process, log)
                    await _answers_from_the_host(port, log)
                    assert (tmp_path / "state").stat().st_uid == UID
                    written = sorted(p.name for p in (tmp_path / "state").iterdir())
                    assert "operator.json" in written, (written, [ln for ln in log if "error" in ln])
                    # A container engine stops the entrypoint with SIGTERM; `buildah run` does
                    # not forward signals, so the daemon (a process of this host: chroot
                    # isolation has no PID namespace) gets it directly. It runs as the image's
                    # user, and so does buildah's chroot helper, its parent.
                    ours = [p for p in descendants(process.pid) if owner(p) == UID]
                    (pid,) = [p for p in ours if cmdline(p).startswith(b"/opt/failover-watcher/bin/")]
                    assert b"\0run\0--config\0" in cmdline(pid)
                    os.kill(pid, signal.SIGTERM)
                    with anyio.fail_after(30):
                        code = await process.wait()
                    progress(f"daemon stopped on SIGTERM: exit {code}")
                    assert code == 0, log[-20:]
                    assert any('"graceful shutdown' in line or "stopped" in line for line in log[-10:])
                finally:
                    if process.returncode is None:
                        # The daemon and buildah's helper first: a killed buildah cannot end them.
                        for child in reversed(descendants(process.pid)):
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(child, signal.SIGKILL)
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(process.pid, signal.SIGKILL)
                    tg.cancel_scope.cancel()
        assert ADMIN_TOKEN not in "\n".join(log)
        assert "sim-secret" not in "\n".join(log)


def _client_id(docs: dict[str, Any]) -> str:
    """The ConfigMap's own client id: the simulator accepts it, so the config needs no edit."""
    import tomllib

    client_id: str = tomllib.loads(docs["ConfigMap"]["data"]["watcher.toml"])["genesys"]["client_id"]
    return client_id


async def _healthy_inside(buildah: Buildah, probe: str, port: int, process: Any, log: list[str]) -> None:
    """`failover-watcher healthcheck` (the image's HEALTHCHECK), run beside the daemon in its container."""
    check = buildah.command(
        "run", "--isolation=chroot", "--network=host", probe,
        "--", "failover-watcher", "healthcheck",
        "--url", f"http://127.0.0.1:{port}/healthz", "--timeout", "2",
    )  # fmt: skip
    answers: list[str] = []

    async def passes() -> bool:
        done = await anyio.run_process(check, check=False)
        answers.append(f"exit {done.returncode} {done.stderr.decode(errors='replace').strip()}")
        return done.returncode == 0

    with anyio.fail_after(120):
        while not await passes():
            assert process.returncode is None, f"the daemon exited {process.returncode}: {log[-20:]}"
            await anyio.sleep(1)  # the probe's own period: the condition is the check passing
    progress(f"healthcheck inside the image: passed after {len(answers)} tries ({answers[-1]})")


async def _answers_from_the_host(port: int, log: list[str]) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        with anyio.fail_after(60):
            while not await ready():
                await anyio.sleep(0.5)
        status = (await http.get("/status")).json()
        (strategy,) = status["strategies"]
        assert (strategy["id"], strategy["activeRegion"]) == ("contact-center", "us-east-1"), status
        hold = {"strategy": "contact-center", "seconds": 600, "reason": "image test"}
        denied = await http.post("/admin/hold", json=hold)
        assert denied.status_code == 401, denied.text
        held = await http.post("/admin/hold", json=hold, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert held.status_code == 200, held.text
        progress(f"/readyz 200; /status {json.dumps(strategy)[:100]}...; admin hold with the token: 200")
    assert log, "the daemon logged nothing"
