"""The completion scripts in real shells: bash driven through its completion function, as
readline would call it on Tab (COMP_LINE, COMP_POINT, COMP_WORDS split at ':' and '=' as
bash does, COMP_CWORD); bash and zsh on a terminal, Tab typed; zsh and fish load theirs
without error and fish answers ``complete -C``. Nothing is installed: the scripts call back
into this venv's ``flwd`` through PATH."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VENV_BIN = str(Path(sys.executable).parent)
_REPORT = """name: Report
executor: container
image: docker.io/library/alpine:3.20
command: [echo]
args:
  - {name: colour, type: string, enum: [red, green, blue]}
  - {name: dry_run, type: boolean}
  - {name: tags, type: array, items: string}
"""
_DEPLOY = "name: Deploy\nexecutor: container\nimage: alpine\ncommand: [echo]\n"


@pytest.fixture()
def shell_env(tmp_path: Path) -> dict[str, str]:
    """A home and a working directory with no flwd.yaml and no ./jobs: the jobs root is
    given only by --jobs-dir (so the callback must honour it) or FLWD_JOBS_DIR."""
    for job_id, spec in (("report", _REPORT), ("deploy", _DEPLOY)):
        (tmp_path / "catalogue" / job_id).mkdir(parents=True)
        (tmp_path / "catalogue" / job_id / "job.yaml").write_text(spec)
    return {"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(tmp_path), "TERM": "dumb", "LANG": "C.UTF-8"}


def _bash_words(line: str) -> list[str]:
    """*line* split as bash's completion splits it: at blanks, and around ':' and '='."""
    words: list[str] = []
    for part in line.split(" "):
        piece = ""
        for char in part:
            if char in ":=":
                if piece:
                    words.append(piece)
                words.append(char)
                piece = ""
            else:
                piece += char
        if piece or not part:
            words.append(piece)
    if len(words) > 1 and words[-1] == "" and not line.endswith(" "):
        words.pop()
    return words


def bash_complete(line: str, env: dict[str, str], cwd: Path) -> list[str]:
    """What Tab offers at the end of *line* in bash, which sourced ``flwd :completion bash``."""
    words = _bash_words(line)
    script = "\n".join((
        'source <(flwd :completion bash) || exit 90',
        'complete -p flwd >/dev/null || exit 91',
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}",
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}",
        '_flwd_complete flwd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ))
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
class TestBash:
    def test_registers_the_function_when_sourced(self, shell_env: dict[str, str],
                                                  tmp_path: Path) -> None:
        done = subprocess.run(["bash", "--norc", "-ic",
                               "source <(flwd :completion bash); complete -p flwd"],
                              env=shell_env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.stdout.strip() == "complete -F _flwd_complete flwd"

    def test_offers_commands_when_a_colon_is_typed(self, shell_env: dict[str, str],
                                                   tmp_path: Path) -> None:
        # bash replaces only what follows the ':' it split at
        assert bash_complete("flwd :pl", shell_env, tmp_path) == ["plan"]
        assert bash_complete("flwd :comp", shell_env, tmp_path) == ["completion"]
        assert ":jobs" in bash_complete("flwd :", shell_env, tmp_path)

    def test_offers_job_ids_when_jobs_dir_was_typed(self, shell_env: dict[str, str],
                                                    tmp_path: Path) -> None:
        found = bash_complete("flwd --jobs-dir catalogue ", shell_env, tmp_path)
        assert {"report", "deploy", ":plan", ":completion"} <= set(found)
        assert bash_complete("flwd --jobs-dir catalogue rep", shell_env, tmp_path) == ["report"]
        assert bash_complete("flwd rep", shell_env, tmp_path) == []  # no jobs root typed

    def test_offers_job_ids_when_the_env_names_the_root(self, shell_env: dict[str, str],
                                                        tmp_path: Path) -> None:
        env = {**shell_env, "FLWD_JOBS_DIR": str(tmp_path / "catalogue")}
        assert bash_complete("flwd :plan dep", env, tmp_path) == ["deploy"]

    def test_offers_argument_names_when_after_a_job(self, shell_env: dict[str, str],
                                                    tmp_path: Path) -> None:
        found = bash_complete("flwd --jobs-dir catalogue report --", shell_env, tmp_path)
        assert {"--colour", "--dry-run", "--no-dry-run", "--tags", "--json"} <= set(found)
        assert "--dry_run" not in found

    def test_offers_enum_values_when_after_an_enum_argument(self, shell_env: dict[str, str],
                                                            tmp_path: Path) -> None:
        line = "flwd --jobs-dir catalogue report --colour "
        assert bash_complete(line, shell_env, tmp_path) == ["red", "green", "blue"]
        assert bash_complete(line + "g", shell_env, tmp_path) == ["green"]
        assert bash_complete("flwd --jobs-dir=catalogue report --colour=b", shell_env,
                             tmp_path) == ["blue"]

    def test_offers_the_no_form_when_the_argument_is_boolean(self, shell_env: dict[str, str],
                                                             tmp_path: Path) -> None:
        line = "flwd --jobs-dir catalogue report --no"
        assert bash_complete(line, shell_env, tmp_path) == ["--no-dry-run"]

    def test_offers_directories_when_after_jobs_dir(self, shell_env: dict[str, str],
                                                    tmp_path: Path) -> None:
        assert bash_complete("flwd --jobs-dir cat", shell_env, tmp_path) == ["catalogue"]


def test_zsh_loads_the_script_without_error(shell_env: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (.ci/setup-runtimes.sh installs it)")
    done = subprocess.run(
        ["zsh", "-f", "-c", "autoload -U compinit; compinit -u; source <(flwd :completion zsh) "
                            "&& print -r -- ${_comps[flwd]}"],
        env=shell_env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr, done.stdout.strip()) == (0, "", "_flwd")


def test_fish_loads_the_script_without_error(shell_env: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (.ci/setup-runtimes.sh installs it)")
    done = subprocess.run(
        ["fish", "--no-config", "-c",
         "flwd :completion fish | source; and complete -C 'flwd --jobs-dir catalogue report --col'"],
        env=shell_env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.split("\t")[0] == "--colour"


_INTERACTIVE = {  # the shell on a terminal, and the line that loads the script
    "bash": (["bash", "--norc", "--noprofile", "-i"], "source <(flwd :completion bash)"),
    "zsh": (["zsh", "-f", "-i"], "autoload -U compinit; compinit -u; source <(flwd :completion zsh)"),
}


def _tab(shell: str, typed: str, expected: str, env: dict[str, str], cwd: Path) -> str:
    """Type *typed* then Tab into an interactive *shell* on a terminal; what it echoed, read
    until *expected* shows (or 30 s pass)."""
    import pty
    import select
    import time

    argv, setup = _INTERACTIVE[shell]
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive shell with no rc file, completing from the script
        os.chdir(cwd)
        os.execvpe(argv[0], argv, {**env, "PS1": "$ ", "INPUTRC": "/dev/null"})
    echoed = b""
    try:
        os.write(fd, setup.encode() + b"\n" + typed.encode() + b"\t")
        deadline = time.monotonic() + 30
        while expected.encode() not in echoed and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                echoed += os.read(fd, 4096)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return echoed.decode(errors="replace")


@pytest.mark.parametrize("shell", sorted(_INTERACTIVE))
@pytest.mark.parametrize(("typed", "completed"), [
    ("flwd :pl", "flwd :plan "),
    ("flwd --jobs-dir catalogue rep", "flwd --jobs-dir catalogue report "),
    ("flwd --jobs-dir=catalogue report --colour=g", "report --colour=green "),
    ("flwd --jobs-dir catalogue report --no", "report --no-dry-run "),
])
def test_shell_completes_the_word_when_tab_is_pressed(shell: str, typed: str, completed: str,
                                                      shell_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (.ci/setup-runtimes.sh installs it)")
    assert completed in _tab(shell, typed, completed, shell_env, tmp_path)


_HEAVY = ("cyclopts", "rich", "dependency_injector", "asyncio", "sqlite3", "podman", "docker",
          "litestar", "flwd.entrypoints.container", "flwd.domain.run.execution",
          "flwd.adapters.sqlite_store", "flwd.entrypoints.cli.commands")
_PROBE = """
import io, json, sys
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
out = io.StringIO()
code = main(sys.argv[1:], io=Io(out=out, err=io.StringIO()))
print(json.dumps({"code": code, "out": out.getvalue(),
                  "loaded": [m for m in json.loads(sys.stdin.read()) if m in sys.modules]}))
"""


@pytest.mark.parametrize("words", [["re"], ["report", "--"], ["report", "--colour", ""]])
def test_callback_loads_no_parser_container_runtime_or_store_when_tab_is_pressed(
        words: list[str], shell_env: dict[str, str], tmp_path: Path) -> None:
    import json

    env = {**shell_env, "FLWD_JOBS_DIR": str(tmp_path / "catalogue")}
    done = subprocess.run([sys.executable, "-c", _PROBE, ":__complete", *words],
                          input=json.dumps(_HEAVY), capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60, check=False)
    result = json.loads(done.stdout)
    assert result["code"] == 0 and result["out"].count("\n") > 1, done.stderr
    assert result["loaded"] == []
