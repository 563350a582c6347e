"""Shell completion's logic: the words typed in, the candidates for the last one out."""

from __future__ import annotations

import io
from typing import Sequence

import pytest

from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.entrypoints.cli.completion import JobSource, complete
from flwd.entrypoints.cli.completion_scripts import run_callback
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io

REPORT = JobSpec(id="report", directory="", spec_path="", image="alpine", name="Report", args=(
    ArgSpec(name="colour", type=ArgType.STRING, enum=("red", "green", "blue")),
    ArgSpec(name="dry_run", type=ArgType.BOOLEAN),
    ArgSpec(name="tags", type=ArgType.ARRAY, items=ArgType.STRING),
    ArgSpec(name="level", type=ArgType.INTEGER, enum=(1, 2, 3)),
    ArgSpec(name="db.host", type=ArgType.STRING),
))
DEPLOY = JobSpec(id="deploy", directory="", spec_path="", image="alpine", name="Deploy")


class FakeJobs:
    def __init__(self, jobs: Sequence[JobSpec]) -> None:
        self._jobs = tuple(jobs)

    def jobs(self) -> Sequence[JobSpec]:
        return self._jobs

    def job(self, job_id: str) -> JobSpec | None:
        return next((job for job in self._jobs if job.id == job_id), None)


class Factory:
    """Records the global options each catalogue was made for."""

    def __init__(self, jobs: Sequence[JobSpec] = (REPORT, DEPLOY)) -> None:
        self.jobs = jobs
        self.given: list[dict[str, list[str]]] = []

    def __call__(self, given: dict[str, list[str]]) -> JobSource:
        self.given.append(given)
        return FakeJobs(self.jobs)


def values(line: str) -> list[str]:
    """*line* as typed (a trailing space starts a new, empty word)."""
    words = line.split(" ")
    return [c.value for c in complete(words, Factory()).candidates]


def test_commands_and_job_ids_are_offered_when_nothing_is_typed() -> None:
    found = values("")
    assert {":jobs", ":plan", ":serve", ":runs", ":logs", ":cancel", ":doctor",
            ":completion"} <= set(found)
    assert {"report", "deploy"} <= set(found)


def test_only_commands_are_offered_when_a_colon_is_typed() -> None:
    assert values(":pl") == [":plan"]
    assert values(":comp") == [":completion"]
    assert "report" not in values(":")


def test_job_ids_are_offered_when_their_prefix_is_typed() -> None:
    assert values("rep") == ["report"]


def test_global_options_are_offered_when_a_dash_is_typed() -> None:
    found = values("--")
    assert {"--jobs-dir", "--config", "--runtime", "--data-dir", "--server", "--token",
            "--help", "--version"} == set(found)


def test_runtime_values_are_offered_when_after_runtime() -> None:
    assert values("--runtime ") == ["auto", "podman", "docker"]
    assert values("--runtime=p") == ["--runtime=podman"]


def test_paths_are_left_to_the_shell_when_after_a_path_option() -> None:
    assert complete(["--jobs-dir", ""], Factory()).kind == "dirs"
    assert complete(["--data-dir", "x"], Factory()).kind == "dirs"
    assert complete(["--config", ""], Factory()).kind == "files"


def test_catalogue_is_read_with_the_global_options_when_they_were_typed() -> None:
    factory = Factory()
    found = complete(["--jobs-dir", "a", "--jobs-dir=b", "--config", "c.yaml", "re"], factory)
    assert [c.value for c in found.candidates] == ["report"]
    assert factory.given == [{"--jobs-dir": ["a", "b"], "--config": ["c.yaml"]}]


def test_catalogue_is_not_read_when_no_candidate_depends_on_it() -> None:
    def refuse(given: dict[str, list[str]]) -> JobSource:
        raise AssertionError("the catalogue was read")

    assert complete(["--"], refuse).candidates
    assert complete([":"], refuse).candidates
    assert complete([":completion", ""], refuse).candidates


def test_argument_names_are_offered_dashed_when_after_a_job() -> None:
    found = values("report ")
    assert found[:6] == ["--colour", "--dry-run", "--no-dry-run", "--tags", "--level", "--db.host"]
    assert {"--profile", "--json", "--detach", "--help"} <= set(found)
    assert "--dry_run" not in found


def test_other_spellings_are_offered_when_they_are_typed() -> None:
    assert values("report --dry_") == ["--dry_run"]
    assert values("report --no_") == ["--no_dry_run"]


def test_no_form_is_offered_when_the_argument_is_boolean() -> None:
    assert values("report --no") == ["--no-dry-run"]


def test_enum_values_are_offered_when_after_an_enum_argument() -> None:
    assert values("report --colour ") == ["red", "green", "blue"]
    assert values("report --colour g") == ["green"]
    assert values("report --colour=b") == ["--colour=blue"]
    assert values("report --level ") == ["1", "2", "3"]


def test_boolean_values_are_offered_when_a_flag_is_given_with_equals() -> None:
    assert values("report --dry-run=") == ["--dry-run=true", "--dry-run=false"]


def test_nothing_is_offered_when_the_argument_takes_free_text() -> None:
    assert values("report --db.host ") == []


def test_given_arguments_are_left_out_when_they_do_not_repeat() -> None:
    found = values("report --colour red --tags a ")
    assert "--colour" not in found
    assert "--tags" in found


def test_profile_values_are_offered_when_after_profile() -> None:
    assert values("report --profile ") == ["secure", "permissive", "disabled"]
    assert values(":plan report --profile s") == ["secure"]


def test_plan_completes_the_job_and_its_arguments_when_after_plan() -> None:
    assert values(":plan de") == ["deploy"]
    found = values(":plan report --")
    assert "--colour" in found and "--json" in found and "--detach" not in found
    assert values(":plan report --colour r") == ["red"]


def test_command_options_and_values_are_offered_when_after_a_command() -> None:
    assert values(":runs --") == ["--job", "--status", "--json", "--help"]
    assert values(":runs --job ") == ["report", "deploy"]
    assert values(":runs --status ti") == ["timed_out"]
    assert values(":serve --profile p") == ["permissive"]


def test_shells_are_offered_when_after_completion() -> None:
    assert values(":completion ") == ["bash", "zsh", "fish"]
    assert values(":completion z") == ["zsh"]
    assert values(":completion bash ") == []


def test_nothing_is_offered_when_after_help_or_terminator() -> None:
    assert values("--help ") == []
    assert values("report -- ") == []
    assert values("report --help ") == []


def test_nothing_is_offered_when_the_job_or_command_is_unknown() -> None:
    assert values("nosuch --") == []
    assert values(":nosuch --") == []


def test_callback_prints_kind_then_candidates_when_called() -> None:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("flwd.entrypoints.cli.completion_scripts._source",
                      lambda given, env: FakeJobs((REPORT,)))
        assert run_callback(["report", "--col"], out, {}) == 0
    assert out.getvalue() == "words\n--colour\tstring\n"


def test_callback_prints_no_candidates_when_the_config_is_broken(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    missing = str(tmp_path / "nope.yaml")
    assert run_callback(["--config", missing, "re"], out, {"HOME": str(tmp_path)}) == 0
    assert out.getvalue() == "words\n"


def test_callback_reads_the_jobs_dir_typed_when_tab_is_pressed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "jobs" / "hello"
    job.mkdir(parents=True)
    (job / "job.yaml").write_text(
        "executor: container\nimage: alpine\ncommand: [echo]\nargs:\n  - {name: mode, type: string, enum: [fast, slow]}\n")
    stdout = io.StringIO()
    code = main([":__complete", "--jobs-dir", str(tmp_path / "jobs"), "hello", "--mode", "f"],
                io=Io(out=stdout, err=io.StringIO()), env={"HOME": str(tmp_path)})
    assert code == 0
    assert stdout.getvalue() == "words\nfast\t\n"


def test_completion_command_prints_each_script_when_a_shell_is_named() -> None:
    for shell, marker in (("bash", "complete -F _flwd_complete flwd"), ("zsh", "compdef _flwd"),
                          ("fish", "complete -c flwd")):
        out = io.StringIO()
        assert main([":completion", shell], io=Io(out=out, err=io.StringIO()), env={}) == 0
        assert marker in out.getvalue()


def test_completion_command_refuses_when_the_shell_is_unknown() -> None:
    err = io.StringIO()
    assert main([":completion", "tcsh"], io=Io(out=io.StringIO(), err=err), env={}) == 2
    assert err.getvalue().startswith("error[usage.invalid]: no completion for shell 'tcsh'")


def test_callback_reads_the_remote_catalogue_when_server_was_typed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.http_support import ADMIN, close, fake_runtime, make_app, make_container, served

    container = make_container(tmp_path, fake_runtime())
    try:
        with served(make_app(container)) as base:
            def tab(*words: str) -> list[str]:
                out = io.StringIO()
                run_callback(["--server", base, "--token", ADMIN, *words], out, {"HOME": "/nonexistent"})
                return [line.split("\t")[0] for line in out.getvalue().splitlines()[1:]]

            assert tab("hel") == ["hello"]
            assert tab("hello", "--na") == ["--name"]
    finally:
        close(container)
