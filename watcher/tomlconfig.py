"""Reading a TOML config into a settings model: the one loader of the daemon's config
(`watcher.config`) and of the dns-sync receiver's (`watcher.dnssync.config`), which share nothing else.

Precedence, highest first: the environment (`<prefix>SECTION__KEY`), the TOML file, the defaults.
Whatever is wrong is refused as a whole, one line per problem naming its key (`ConfigError`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_settings import BaseSettings, SettingsError

S = TypeVar("S", bound=BaseSettings)


class ConfigError(Exception):
    """The configuration was refused; `problems` holds one line per problem, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))

    def report(self, path: object) -> str:
        """What a command prints before refusing to start: a headline, then one line per problem."""
        count = len(self.problems)
        lines = [f"{path}: configuration refused ({count} problem{'' if count == 1 else 's'})"]
        return "\n".join([*lines, *(f"  {p}" for p in self.problems)])


class Section(BaseModel):
    """A table of a config file: unknown keys refused, frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def expand_path(path: Path) -> Path:
    """`${VAR}` and `~` expanded: `${CREDENTIALS_DIRECTORY}/secret` under systemd."""
    return Path(os.path.expandvars(str(path))).expanduser()


def describe_error(error: Any, union: tuple[str, Collection[str]] | None = None) -> str:
    """One pydantic error as `key: message`, the key spelt as in the TOML (`regions[0].id`).

    `union` names the tables chosen by their `kind` (a discriminated union: what the kind is
    called, and its values): pydantic puts the tag in the location (`health[0].probe.url`),
    the TOML does not (`health[0].url`).
    """
    noun, tags = union if union is not None else ("kind", ())
    parts: list[str] = []
    previous: object = None
    for p in error["loc"]:
        tag, previous = isinstance(previous, int) and p in tags, p
        if tag:
            continue
        if isinstance(p, int) and parts:
            parts[-1] = f"{parts[-1]}[{p}]"
        else:
            parts.append(str(p))
    loc = ".".join(parts) or "(top level)"
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        msg = "unknown key"
    elif error["type"] == "missing":
        msg = "missing"
    elif error["type"] == "union_tag_invalid":
        loc, msg = f"{loc}.kind", f"unknown {noun} {error['ctx']['tag']!r} (one of {', '.join(tags)})"
    elif error["type"] == "union_tag_not_found":
        loc, msg = f"{loc}.kind", f"missing (one of {', '.join(tags)})"
    return f"{loc}: {msg}"


def let_environment_pick_secret_source(
    data: dict[str, Any],
    environ: Mapping[str, str],
    prefix: str,
    secret_sources: Sequence[tuple[str, str]],
) -> None:
    """A variable naming a secret, or its file, overrides the TOML's choice of source.

    Without this, `<prefix>SECTION__SECRET` beside a `secret_file` in the TOML would be refused as
    "both given", though the environment is meant to override the file.
    """
    names = {k.upper() for k in environ}
    for section, key in secret_sources:
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        env = f"{prefix}{section}__{key}".upper()
        if env in names:
            table.pop(f"{key}_file", None)
        if f"{env}_FILE" in names:
            table.pop(key, None)


def load_toml_settings(
    model: type[S],
    path: Path,
    *,
    env_prefix: str,
    secret_sources: Sequence[tuple[str, str]],
    cross_check: Callable[[S], list[str]],
    union: tuple[str, Collection[str]] | None = None,
) -> S:
    """Read `path`, overlay the environment, validate, cross-check; raise `ConfigError` listing
    every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"--config: {path} does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"--config: {path} is not readable ({type(exc).__name__})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"--config: {path} is not valid TOML: {exc}"]) from None
    let_environment_pick_secret_source(data, os.environ, env_prefix, secret_sources)
    try:
        cfg = model(**data)
    except ValidationError as exc:
        raise ConfigError([describe_error(e, union) for e in exc.errors()]) from None
    except SettingsError as exc:
        # A variable holding a list/table that is not valid JSON. The message names the field and
        # the source, never the value (it may be a secret).
        raise ConfigError([f"environment: {exc}"]) from None
    problems = cross_check(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
