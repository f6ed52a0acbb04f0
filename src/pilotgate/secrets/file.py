"""`file:PATH`: a secret in a file, such as a mounted Kubernetes or Docker secret.

A relative path starts at pilot.yaml's folder. One trailing newline is dropped (editors and `echo` add
one). A file other users may read is warned about, or refused with `strict=True`: Kubernetes mounts
secrets 0644 by default, so refusing outright would break the commonest deployment.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

from pilotgate.errors import SecretError


class InsecureSecretFileWarning(UserWarning):
    """A secret file is readable by its group or by other users."""


class FileBackend:
    """Reads `file:` references relative to *root* (pilot.yaml's folder), the current folder without one."""

    def __init__(self, root: Path | None = None, *, strict: bool = False) -> None:
        self._root = root
        self._strict = strict

    def path(self, target: str) -> Path:
        """Where `file:TARGET` points."""
        candidate = Path(target).expanduser()
        if candidate.is_absolute():
            return candidate
        return (self._root or Path.cwd()) / candidate

    def resolve(self, target: str) -> str:
        """The file's text less one trailing newline; SecretError if it is missing, unreadable or empty."""
        reference = f"file:{target}"
        path = self.path(target)
        problem: str | None = None
        hint: str | None = None
        data = b""
        try:
            data = path.read_bytes()
            mode = path.stat().st_mode
        except FileNotFoundError:
            problem, hint = (
                f"no file at {path}",
                "create it, or fix the path (relative to pilot.yaml's folder)",
            )
        except IsADirectoryError:
            problem, hint = f"{path} is a folder, not a file", "point the reference at the file itself"
        except PermissionError:
            problem, hint = f"{path} cannot be read: permission denied", "let pilotgate's user read the file"
        except OSError as exc:
            problem = f"{path} cannot be read: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}"
        if problem is not None:
            raise SecretError(f"cannot resolve secret {reference}: {problem}", reference=reference, hint=hint)
        self._check_mode(reference, path, mode)
        text = _decode(data)
        if text is None:
            raise SecretError(
                f"cannot resolve secret {reference}: {path} is not UTF-8 text",
                reference=reference,
                hint="store the secret as UTF-8 text (base64-encode binary secrets)",
            )
        if text.endswith("\r\n"):
            return text[:-2]
        return text.removesuffix("\n")

    def _check_mode(self, reference: str, path: Path, mode: int) -> None:
        if os.name != "posix" or not mode & (stat.S_IRWXG | stat.S_IRWXO):
            return
        message = (
            f"secret file {path} ({reference}) is accessible to other users (mode {stat.S_IMODE(mode):o})"
        )
        if self._strict:
            raise SecretError(
                f"cannot resolve secret {reference}: {message}", reference=reference, hint=f"chmod 600 {path}"
            )
        warnings.warn(f"{message}; chmod 600 it", InsecureSecretFileWarning, stacklevel=3)


def _decode(data: bytes) -> str | None:
    """UTF-8 text, or None; the decode error is dropped because it carries the file's bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
