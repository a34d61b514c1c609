"""The Secret type: a reference to a secret (env var, 0600 file or command), read on demand."""

from __future__ import annotations

import os
import re
import shlex
import subprocess  # noqa: TID251 -- `{ command = "…" }` secrets run a password manager
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vaultkeeper.errors import SecretError

COMMAND_TIMEOUT = 30.0
"""Seconds a ``{ command = … }`` secret may take (a password manager may wait for an agent)."""

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECRET_FORMS = '{ env = "NAME" }, { file = "path" } (mode 0600) or { command = "…" }'  # noqa: S105


@dataclass(frozen=True, repr=False)
class Secret:
    """A reference to a secret (env var, 0600 file, or command); the value is read on demand."""

    kind: Literal["env", "file", "command"]
    ref: str
    # Where the reference was written, so a failure names the file and key (not compared).
    setting: str = field(default="", compare=False)
    config_file: str | None = field(default=None, compare=False)
    base_dir: Path | None = field(default=None, compare=False)
    # Not fields (so dataclasses.asdict and pickles never carry them): the resolved value
    # (`_value`) and the environment `{ env = … }` reads (`_env`, bound by the loader).

    def describe(self) -> str:
        """The reference, never the value: ``env:HUBSPOT_TOKEN``."""
        return f"{self.kind}:{self.ref}"

    def __repr__(self) -> str:
        return f"Secret({self.describe()})"

    __str__ = __repr__

    def __getstate__(self) -> dict[str, Any]:
        # Copies and pickles carry the reference only, never the resolved value.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def bind_env(self, env: Mapping[str, str]) -> Secret:
        """Read ``{ env = … }`` from ``env`` instead of os.environ (the loader's mapping)."""
        object.__setattr__(self, "_env", env)
        return self

    def file_path(self) -> Path | None:
        """For a ``file`` secret the absolute path (``~`` expanded, relative to the config)."""
        if self.kind != "file":
            return None
        path = Path(self.ref).expanduser()
        return path if path.is_absolute() else (self.base_dir or Path.cwd()) / path

    def reveal(self) -> str:
        """Resolve the reference now (cached); raise SecretError naming the key and the fix."""
        cached: str | None = self.__dict__.get("_value")
        if cached is None:
            cached = {"env": self._from_env, "file": self._from_file,
                      "command": self._from_command}[self.kind]()
            # Frozen dataclass: the cache is set behind its back; it is not a field, so
            # dataclasses.asdict() and repr() never see it.
            object.__setattr__(self, "_value", cached)
        return cached

    def _fail(self, message: str, fix: str) -> SecretError:
        return SecretError(message, fix, file=self.config_file, key=self.setting or None)

    def _from_env(self) -> str:
        env: Mapping[str, str] = self.__dict__.get("_env", os.environ)
        value = env.get(self.ref, "")
        if not value.strip():
            state = "is empty" if self.ref in env else "is not set"
            raise self._fail(f"environment variable {self.ref} {state}",
                             f"export {self.ref}=… before running vaultkeeper, or change the "
                             "reference")
        return value.strip()

    def _from_file(self) -> str:
        path = self.file_path()
        assert path is not None
        try:
            mode = path.stat().st_mode
            if mode & 0o077:
                raise self._fail(f"secret file {path} is readable by group or others "
                                 f"(mode {mode & 0o777:04o})", f"chmod 600 {path}")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self._fail(f"secret file {path} does not exist",
                             f"write the secret into it and run chmod 600 {path}, or fix the "
                             "path") from None
        except IsADirectoryError:
            raise self._fail(f"secret file {path} is a directory",
                             "point the reference at the file holding the secret") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._fail(f"cannot read secret file {path} ({type(exc).__name__})",
                             f"make {path} readable by this user (owner read, mode 0600)") \
                from None
        # restic trims surrounding whitespace from password files too: both read the same key.
        if not text.strip():
            raise self._fail(f"secret file {path} is empty", f"write the secret into {path}")
        return text.strip()

    def _from_command(self) -> str:
        argv = shlex.split(self.ref)
        fix = f"run `{self.ref}` yourself and make it print the secret on stdout"
        try:
            # No shell (argv from shlex, as restic splits --password-command); the environment
            # is inherited because password managers need theirs (GNUPGHOME, agent sockets);
            # it runs in the config's directory, like every relative path in the file.
            done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=COMMAND_TIMEOUT, check=False, cwd=self.base_dir)
        except FileNotFoundError:
            raise self._fail(f"secret command {argv[0]!r} not found",
                             f"install {argv[0]} or correct the command") from None
        except subprocess.TimeoutExpired:
            raise self._fail(f"secret command `{self.ref}` did not finish within "
                             f"{COMMAND_TIMEOUT:.0f} s", fix) from None
        except OSError as exc:
            raise self._fail(f"secret command `{self.ref}` could not start ({exc.strerror})",
                             fix) from None
        if done.returncode != 0:
            # stderr is not echoed: some tools print the secret or parts of it on failure.
            raise self._fail(f"secret command `{self.ref}` failed with exit status "
                             f"{done.returncode} (its output is not shown)", fix)
        if not done.stdout.strip():
            raise self._fail(f"secret command `{self.ref}` printed nothing", fix)
        return done.stdout.strip()
