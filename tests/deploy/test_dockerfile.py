"""The Dockerfile, parsed and checked. It is NOT built here: no container engine on this machine.

With the `dockerfile` package installed the parser is BuildKit's own (Go, via the package);
without it a small parser below reads the same structure. Either way the checks are the same.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Instruction:
    cmd: str
    flags: tuple[str, ...]
    value: tuple[str, ...]
    exec_form: bool


def _parse_fallback(text: str) -> list[Instruction]:
    """Enough of the Dockerfile grammar for this file: comments, `\\` continuations, exec form."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    parsed = []
    for line in logical:
        cmd, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        flags: list[str] = []
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        exec_form = False
        value: tuple[str, ...]
        body = rest[len("CMD") :].strip() if cmd.upper() == "HEALTHCHECK" else rest
        try:
            loaded = json.loads(body)
            exec_form = isinstance(loaded, list)
        except json.JSONDecodeError:
            loaded = None
        if exec_form and cmd.upper() == "HEALTHCHECK":
            value = ("CMD", *loaded)
        elif exec_form:
            value = tuple(loaded)
        elif cmd.upper() in {"RUN", "CMD", "ENTRYPOINT"}:
            value = (" ".join(rest.split()),)
        else:
            value = tuple(rest.split())
        parsed.append(Instruction(cmd.upper(), tuple(flags), value, exec_form))
    return parsed


def _parse(text: str) -> list[Instruction]:
    try:
        import dockerfile  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return _parse_fallback(text)
    return [
        Instruction(c.cmd.upper(), tuple(c.flags), tuple(c.value), bool(c.json))
        for c in dockerfile.parse_string(text)
    ]


@pytest.fixture(scope="module", params=["buildkit", "fallback"])
def instructions(request: pytest.FixtureRequest) -> list[Instruction]:
    text = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    if request.param == "fallback":
        return _parse_fallback(text)
    pytest.importorskip("dockerfile", reason="the `dockerfile` package (BuildKit parser) is absent")
    return _parse(text)


def _stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _one(instructions: list[Instruction], cmd: str) -> Instruction:
    (found,) = [i for i in instructions if i.cmd == cmd]
    return found


def test_both_parsers_agree(repo: Path) -> None:
    pytest.importorskip("dockerfile", reason="the `dockerfile` package (BuildKit parser) is absent")
    text = (repo / "Dockerfile").read_text()

    def shape(parsed: list[Instruction]) -> list[tuple[object, ...]]:
        # The fallback does not split ENV/LABEL pairs nor normalise shell-form whitespace; the
        # instructions, their flags and every exec-form argument must match exactly.
        return [(i.cmd, i.flags, i.exec_form, i.value if i.exec_form else ()) for i in parsed]

    assert shape(_parse(text)) == shape(_parse_fallback(text))


def test_multi_stage_from_pinned_slim_python(instructions: list[Instruction]) -> None:
    stages = _stages(instructions)
    assert len(stages) >= 2
    args = {
        i.value[0].split("=", 1)[0]: i.value[0].split("=", 1)[1]
        for i in instructions
        if i.cmd == "ARG" and "=" in i.value[0]
    }
    for stage in stages:
        image = stage[0].value[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert re.fullmatch(r"python:3\.1[12][\w.]*-slim[\w.-]*", image), image
        assert not image.endswith(":latest")
    names = [stage[0].value[-1] for stage in stages]
    assert names[0] == "builder"


def test_builder_builds_a_wheel_from_the_project_metadata(
    instructions: list[Instruction], repo: Path
) -> None:
    builder, runtime = _stages(instructions)[0], _stages(instructions)[-1]
    copied = {v for i in builder if i.cmd == "COPY" for v in i.value[:-1]}
    assert "pyproject.toml" in copied
    readme = tomllib.loads((repo / "pyproject.toml").read_text())["project"].get("readme")
    if readme:
        assert readme in copied, "the build needs the readme pyproject.toml names"
    assert any(i.cmd == "RUN" and "pip wheel" in i.value[0] for i in builder)
    install = [i for i in runtime if i.cmd == "RUN" and "pip install" in i.value[0]]
    assert install, "the runtime stage installs the wheels"
    assert "--no-index" in install[0].value[0]
    assert "python -m venv" in install[0].value[0]
    assert any("from=builder" in flag for flag in install[0].flags)


def test_runtime_runs_as_numeric_non_root_user(instructions: list[Instruction]) -> None:
    runtime = _stages(instructions)[-1]
    user = _one(runtime, "USER").value[0]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), user
    assert int(user.split(":")[0]) >= 10000


def test_entrypoint_cmd_and_healthcheck_are_exec_form(instructions: list[Instruction]) -> None:
    runtime = _stages(instructions)[-1]
    entrypoint, cmd = _one(runtime, "ENTRYPOINT"), _one(runtime, "CMD")
    assert entrypoint.exec_form
    assert entrypoint.value == ("failover-watcher",)
    assert cmd.exec_form
    assert cmd.value == ("run", "--config", "/etc/failover-watcher/watcher.toml")
    healthcheck = _one(runtime, "HEALTHCHECK")
    assert healthcheck.exec_form
    assert healthcheck.value[:3] == ("CMD", "failover-watcher", "healthcheck")


def test_read_only_root_filesystem_friendly(instructions: list[Instruction]) -> None:
    runtime = _stages(instructions)[-1]
    env = " ".join(v for i in runtime if i.cmd == "ENV" for v in i.value)
    assert "PYTHONDONTWRITEBYTECODE" in env
    assert "PYTHONUNBUFFERED" in env
    assert "WATCHER_STATE__DIR /var/lib/failover-watcher" in env or (
        "WATCHER_STATE__DIR=/var/lib/failover-watcher" in env
    )
    volume = _one(runtime, "VOLUME")
    assert "/var/lib/failover-watcher" in volume.value


def test_dockerignore_lets_in_only_what_the_build_copies(repo: Path) -> None:
    lines = [
        line.strip()
        for line in (repo / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "README.md", "watcher"} <= allowed
    assert ".venv" not in allowed
    assert ".git" not in allowed
