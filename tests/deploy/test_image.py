"""The runtime install and the container image, read rather than built (no container runs here).

The Dockerfile's builder stage runs deploy/build.sh, the one install script (``make
deploy-check`` runs it on the host); its final stage has no compilers, runs as a numeric
non-root user and checks /livez. The locks cover pyproject.toml's runtime dependencies with
hashes; the entry point turns secret files into settings; the systemd units run the runtime
install.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from gateway.surfaces.api.operations import probes
from tests.support.avrr_commands import parse_avrr

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/opt/avrr"


def stages() -> list[list[str]]:
    """The Dockerfile's stages, each a list of instructions (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.strip()
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    result: list[list[str]] = []
    for instruction in instructions:
        if instruction.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def instructions(stage: list[str], keyword: str) -> list[str]:
    return [line for line in stage if line.split()[0].upper() == keyword]


class TestDockerfile:
    def test_the_builder_runs_the_one_build_script(self) -> None:
        builder = stages()[0]
        assert os.access(ROOT / "deploy" / "build.sh", os.X_OK)
        (run,) = [line for line in instructions(builder, "RUN") if "build.sh" in line]
        assert run.split()[1:3] == ["deploy/build.sh", PREFIX]

    def test_the_final_stage_copies_only_the_built_environment(self) -> None:
        final = stages()[-1]
        copies = instructions(final, "COPY")
        assert copies == [f"COPY --from=builder {PREFIX} {PREFIX}"]

    def test_both_stages_start_from_the_same_python_image(self) -> None:
        # The environment built in the first finds its interpreter in the second.
        bases = [stage[0].split()[1] for stage in stages()]
        assert len(set(bases)) == 1
        assert len(bases) == 2

    def test_the_final_stage_has_no_compilers(self) -> None:
        final = " ".join(stages()[-1]).lower()
        for tool in ("build-essential", "gcc", "g++", "clang", "apt-get install", "pip install"):
            assert tool not in final, tool

    def test_the_final_stage_runs_as_a_numeric_non_root_user(self) -> None:
        final = stages()[-1]
        user = instructions(final, "USER")[-1].split()[1]
        uid, _, gid = user.partition(":")
        assert uid.isdigit()
        assert int(uid) != 0
        assert not gid or (gid.isdigit() and int(gid) != 0)
        # Nothing after USER may need root.
        assert final.index(instructions(final, "USER")[-1]) > final.index(
            instructions(final, "RUN")[-1]
        )

    def test_the_final_stage_checks_livez_without_curl(self) -> None:
        (check,) = instructions(stages()[-1], "HEALTHCHECK")
        assert "/livez" in check
        assert "/livez" in {route.path for route in probes.routes}  # type: ignore[attr-defined]
        assert "urllib.request" in check
        assert "curl" not in check
        assert "wget" not in check

    def test_the_image_serves_the_api_with_several_processes_by_default(
        self, tmp_path: Path
    ) -> None:
        final = stages()[-1]
        (entrypoint,) = instructions(final, "ENTRYPOINT")
        (command,) = instructions(final, "CMD")
        assert "avrr-entrypoint" in entrypoint
        parse_avrr(json.loads(command.removeprefix("CMD")), home=tmp_path)
        assert '"serve"' in command
        assert '"--workers"' in command


class TestDockerignore:
    def test_everything_is_out_unless_listed(self) -> None:
        lines = [
            line
            for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        ]
        assert lines[0] == "*"
        allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
        for needed in ("pyproject.toml", "deploy/build.sh", "requirements/*.lock", "gateway"):
            assert needed in allowed, needed
        for kept_out in (".venv", ".git", "tests", "test-output", "bench"):
            assert kept_out not in allowed, kept_out

    def test_the_build_script_copies_only_what_the_context_holds(self) -> None:
        script = (ROOT / "deploy" / "build.sh").read_text(encoding="utf-8")
        copied = re.search(r"-cf - \\\n\s+(.+?) \|", script)
        assert copied is not None
        lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
        assert set(copied.group(1).split()) <= allowed


def locked(name: str) -> dict[str, str]:
    """Package name -> version pinned in requirements/<name>.lock."""
    text = (ROOT / "requirements" / f"{name}.lock").read_text(encoding="utf-8")
    return {
        match[1].lower(): match[2]
        for match in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, re.MULTILINE)
    }


def requirement_name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


class TestLocks:
    @pytest.mark.parametrize("name", ["runtime", "hsm", "build"])
    def test_every_line_is_pinned_with_hashes(self, name: str) -> None:
        text = (ROOT / "requirements" / f"{name}.lock").read_text(encoding="utf-8")
        assert "make lock" in text.splitlines()[1]
        for block in re.split(r"\n(?=[A-Za-z0-9])", text):
            if block.startswith("#"):
                continue
            assert "==" in block.split()[0], block[:60]
            assert "--hash=sha256:" in block, block[:60]

    def test_the_runtime_lock_covers_every_runtime_dependency(self) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        wanted = {requirement_name(r) for r in project["project"]["dependencies"]}
        assert wanted - set(locked("runtime")) == set(), "run `make lock`"

    def test_the_hsm_lock_is_the_runtime_lock_plus_pkcs11(self) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        runtime, hsm = locked("runtime"), locked("hsm")
        assert runtime.items() <= hsm.items()
        extra = {requirement_name(r) for r in project["project"]["optional-dependencies"]["hsm"]}
        assert extra <= set(hsm)

    def test_no_development_tool_is_in_the_runtime(self) -> None:
        for tool in ("pytest", "mypy", "ruff", "hypothesis", "playwright", "uv", "setuptools"):
            assert tool not in locked("runtime"), tool


def run_entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "deploy" / "container" / "entrypoint.sh"), *command],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


class TestEntrypoint:
    def test_a_file_variable_becomes_the_setting(self, tmp_path: Path) -> None:
        secret = tmp_path / "database-url"
        secret.write_text("postgresql://node@db.example/avrr\n", encoding="utf-8")
        result = run_entrypoint({"AVRR_DATABASE_URL_FILE": str(secret)}, "env")
        assert result.returncode == 0
        assert "AVRR_DATABASE_URL=postgresql://node@db.example/avrr" in result.stdout.splitlines()
        assert "AVRR_DATABASE_URL_FILE" not in result.stdout

    def test_a_variable_set_directly_wins(self, tmp_path: Path) -> None:
        secret = tmp_path / "url"
        secret.write_text("from-file", encoding="utf-8")
        env = {"AVRR_DIRECTORY_URL": "direct", "AVRR_DIRECTORY_URL_FILE": str(secret)}
        result = run_entrypoint(env, "env")
        assert "AVRR_DIRECTORY_URL=direct" in result.stdout.splitlines()

    def test_an_unreadable_file_stops_the_start_without_printing_it(self) -> None:
        result = run_entrypoint({"AVRR_KEYSTORE_URL_FILE": "/nonexistent/keystore"}, "true")
        assert result.returncode == 1
        assert "AVRR_KEYSTORE_URL_FILE" in result.stderr

    def test_files_the_node_reads_itself_are_left_to_it(self, tmp_path: Path) -> None:
        pin = tmp_path / "pin"
        pin.write_text("1234", encoding="utf-8")
        result = run_entrypoint({"AVRR_PKCS11_PIN_FILE": str(pin)}, "env")
        assert f"AVRR_PKCS11_PIN_FILE={pin}" in result.stdout.splitlines()
        assert "AVRR_PKCS11_PIN=" not in result.stdout


class TestSystemdUnits:
    @pytest.mark.parametrize(
        ("unit", "command"),
        [("avrr-api.service", "serve"), ("avrr-worker.service", "worker")],
    )
    def test_the_unit_runs_the_runtime_install(
        self, unit: str, command: str, tmp_path: Path
    ) -> None:
        text = (ROOT / "deploy" / unit).read_text(encoding="utf-8")
        (start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
        assert start.startswith(f"ExecStart=/opt/avrr-gateway/current/bin/avrr {command} ")
        args = shlex.split(start.removeprefix("ExecStart="))
        parse_avrr(["avrr", *args[1:]], home=tmp_path)
        assert "User=avrr" in text
        assert "NoNewPrivileges=true" in text
        if command == "serve":
            assert "--workers" in start
            assert "--host 127.0.0.1" in start
