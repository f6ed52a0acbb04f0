"""env: and file: references."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pilotgate.errors import SecretError
from pilotgate.secrets import EnvBackend, FileBackend, InsecureSecretFileWarning, SecretResolver


def test_env_reads_the_variable_when_asked(monkeypatch: pytest.MonkeyPatch, canary: str) -> None:
    monkeypatch.setenv("LLM_API_KEY", canary)
    assert SecretResolver().resolve("env:LLM_API_KEY") == canary


def test_env_unset_names_the_variable(canary: str) -> None:
    backend = EnvBackend({"OTHER": canary})
    with pytest.raises(SecretError) as caught:
        backend.resolve("LLM_API_KEY")
    assert "env:LLM_API_KEY" in str(caught.value)
    assert caught.value.reference == "env:LLM_API_KEY"
    assert caught.value.hint == "export LLM_API_KEY=... in the environment that runs pilotgate"
    assert caught.value.exit_code == 2


def _secret_file(path: Path, content: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_file_is_relative_to_the_pilots_folder_and_loses_one_newline(tmp_path: Path, canary: str) -> None:
    (tmp_path / "secrets").mkdir()
    _secret_file(tmp_path / "secrets" / "key", f"{canary}\n".encode())
    _secret_file(tmp_path / "crlf", f"{canary}\r\n".encode())
    _secret_file(tmp_path / "two", f"{canary}\n\n".encode())
    resolver = SecretResolver(root=tmp_path)
    assert resolver.resolve("file:secrets/key") == canary
    assert resolver.resolve("file:crlf") == canary
    assert resolver.resolve("file:two") == canary + "\n"
    assert resolver.resolve(f"file:{tmp_path / 'secrets' / 'key'}") == canary


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_file_others_may_read_warns_or_is_refused_when_strict(tmp_path: Path, canary: str) -> None:
    _secret_file(tmp_path / "key", canary.encode(), 0o644)
    with pytest.warns(InsecureSecretFileWarning, match="chmod 600"):
        assert FileBackend(tmp_path).resolve("key") == canary
    with pytest.raises(SecretError) as caught:
        FileBackend(tmp_path, strict=True).resolve("key")
    assert "mode 644" in str(caught.value)
    assert canary not in str(caught.value)


@pytest.mark.parametrize(
    ("setup", "wanted"),
    [
        ("missing", "no file at"),
        ("folder", "is a folder"),
        ("binary", "is not UTF-8 text"),
        ("empty", "it is empty"),
    ],
)
def test_file_failures_name_the_reference_not_the_content(
    tmp_path: Path, canary: str, setup: str, wanted: str
) -> None:
    target = tmp_path / "key"
    if setup == "folder":
        target.mkdir()
    elif setup == "binary":
        _secret_file(target, b"\xff\xfe" + canary.encode())
    elif setup == "empty":
        _secret_file(target, b"\n")
    with pytest.raises(SecretError) as caught:
        SecretResolver(root=tmp_path).resolve("file:key")
    error = caught.value
    assert wanted in str(error)
    assert error.reference == "file:key"
    assert error.__context__ is None
    assert error.__cause__ is None
    for text in (str(error), repr(error), error.hint or ""):
        assert canary not in text
