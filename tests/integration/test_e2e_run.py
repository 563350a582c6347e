"""End to end through the real `flwd` CLI: the seed example, exit codes, output streams,
runtime failures, and the run history (`:runs`, `:logs`)."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    EXAMPLES,
    FLWD,
    Result,
    Runtime,
    Sandbox,
    rt,
    sandbox,
)

FAILING_SCRIPT = """\
echo "to stdout"
echo "to stderr one" >&2
echo "to stderr two" >&2
exit 7
"""


@pytest.fixture(scope="module")
def seed_run(sandbox: Sandbox) -> Result:
    return sandbox.flwd("demo-container", "--name", "Alice", jobs_dir=EXAMPLES)


@pytest.fixture(scope="module")
def seed_json(sandbox: Sandbox) -> Result:
    return sandbox.flwd("demo-container", "--name", "Alice", "--json", jobs_dir=EXAMPLES)


@pytest.fixture(scope="module")
def failing_run(sandbox: Sandbox) -> Result:
    sandbox.write_job("fails", """\
        executor: container
        image: alpine:3.20
        script: main.sh
        """, {"main.sh": FAILING_SCRIPT})
    return sandbox.flwd("fails")


def test_seed_example_greets_when_run_with_a_name(seed_run: Result) -> None:
    assert seed_run.code == 0, seed_run.describe()
    assert seed_run.out == "Hello Alice from inside a container!\n"
    assert "error[" not in seed_run.err


def test_json_prints_ordered_events_from_created_to_succeeded_when_asked(seed_json: Result) -> None:
    events = seed_json.events()
    seqs = [e["seq"] for e in events]
    types = [e["type"] for e in events]

    assert seed_json.code == 0, seed_json.describe()
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e["run_id"] for e in events}) == 1
    assert types[0] == "run.created" and types[-1] == "run.finished"
    assert types.index("run.started") < types.index("run.output")
    assert events[-1]["data"]["status"] == "succeeded" and events[-1]["data"]["exit_code"] == 0
    assert {"stream": "stdout", "line": "Hello Alice from inside a container!"} in [
        e["data"] for e in events if e["type"] == "run.output"]


def test_job_exit_code_passes_through_when_job_fails(sandbox: Sandbox, failing_run: Result) -> None:
    run = sandbox.only_run("fails")

    assert failing_run.code == 7, failing_run.describe()
    assert run["status"] == "failed" and run["exit_code"] == 7


def test_job_streams_reach_flwd_streams_when_job_writes_both(failing_run: Result) -> None:
    assert failing_run.out == "to stdout\n"
    assert "to stderr one\nto stderr two\n" in failing_run.err


def test_run_ends_e_oci_when_image_cannot_be_pulled(sandbox: Sandbox) -> None:
    sandbox.write_job("no-image", """\
        executor: container
        image: localhost:1/none:latest
        command: ["/bin/true"]
        """)

    result = sandbox.flwd("no-image", "--json")
    last = result.events()[-1]

    assert result.code == 125, result.describe()
    assert "error[E_OCI]" in result.err
    assert last["type"] == "run.finished"
    assert last["data"]["status"] == "error" and last["data"]["code"] == "E_OCI"
    assert "run.started" not in [e["type"] for e in result.events()]


def test_run_fails_fast_with_runtime_unavailable_when_socket_is_dead(sandbox: Sandbox) -> None:
    variable = "CONTAINER_HOST" if sandbox.runtime.name == "podman" else "DOCKER_HOST"
    env = {**sandbox.env(), variable: "unix:///nonexistent.sock"}  # podman on PATH: no matter
    sandbox.write_job("unreachable", """\
        executor: container
        image: alpine:3.20
        command: ["/bin/true"]
        """)

    result = sandbox.flwd("unreachable", raw_env=env)

    assert result.code == 125, result.describe()
    assert "error[container.runtime.unavailable]" in result.err
    assert "/nonexistent.sock" in result.err
    assert result.seconds < 2.0, result.describe()


def test_runs_lists_every_run_when_runs_were_made(
    sandbox: Sandbox, seed_run: Result, seed_json: Result, failing_run: Result
) -> None:
    runs = sandbox.runs()
    by_job = {(r["job_id"], r["status"], r["exit_code"]) for r in runs}

    assert ("demo-container", "succeeded", 0) in by_job
    assert ("fails", "failed", 7) in by_job
    assert len([r for r in runs if r["job_id"] == "demo-container"]) == 2

    table = sandbox.flwd(":runs")
    assert table.code == 0, table.describe()
    assert all(r["run_id"] in table.out for r in runs)


def test_logs_prints_the_output_when_run_has_finished(sandbox: Sandbox, seed_json: Result) -> None:
    run_id = seed_json.events()[0]["run_id"]

    logs = sandbox.flwd(":logs", run_id)

    assert logs.code == 0, logs.describe()
    assert logs.out == "Hello Alice from inside a container!\n"


def test_logs_keeps_stream_separation_when_job_wrote_stderr(sandbox: Sandbox, failing_run: Result) -> None:
    run_id = sandbox.only_run("fails")["run_id"]

    logs = sandbox.flwd(":logs", run_id)

    assert logs.out == "to stdout\n"
    assert "to stderr one\nto stderr two\n" in logs.err


def test_no_container_is_left_when_runs_have_ended(
    rt: Runtime, sandbox: Sandbox, seed_run: Result, failing_run: Result
) -> None:
    # every run above has returned: its container must already be gone
    assert [name for run in sandbox.runs() for name in rt.containers(run["run_id"])] == []


def test_job_runs_when_data_and_jobs_dirs_are_relative(sandbox: Sandbox) -> None:
    """`--data-dir data --jobs-dir jobs` from the sandbox: mount sources must not stay relative."""
    sandbox.write_job("relative", """\
        executor: container
        image: alpine:3.20
        command: ["/bin/sh", "-c", "echo ok > /flwd/run/out.txt && cat /flwd/run/out.txt"]
        """)
    argv = ["--runtime", sandbox.runtime.name, "--jobs-dir", "jobs", "--data-dir", "data", "relative"]

    done = subprocess.run([FLWD, *argv], capture_output=True, text=True, timeout=60,
                          cwd=sandbox.base, env=sandbox.env())

    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
    assert [p.read_text() for p in (sandbox.data / "runs").glob("*/out.txt")] == ["ok\n"]


def test_every_output_line_arrives_in_order_when_job_prints_fast(sandbox: Sandbox) -> None:
    """10000 lines printed at once, then the job exits: none may be lost after the exit."""
    sandbox.write_job("chatty", """\
        executor: container
        image: alpine:3.20
        script: main.sh
        """, {"main.sh": 'i=1; while [ $i -le 10000 ]; do echo "line $i"; i=$((i+1)); done\n'
                         'echo "last words" >&2\n'})

    result = sandbox.flwd("chatty")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"line {i}" for i in range(1, 10001)]
    assert "last words\n" in result.err


def test_every_argument_problem_is_reported_at_once_when_several_are_wrong(sandbox: Sandbox) -> None:
    sandbox.write_job("typed", """\
        executor: container
        image: alpine:3.20
        command: ["/bin/true"]
        args:
          - {name: name, type: string, required: true}
          - {name: level, type: integer, minimum: 1, maximum: 5}
        """)

    result = sandbox.flwd("typed", "--level", "9", "--bogus", "1")

    assert result.code == 2, result.describe()
    assert "error[args.invalid]" in result.err
    problems = {line.split(":")[0].strip() for line in result.err.splitlines()[1:]}
    assert problems == {"--name", "--level", "--bogus"}, result.err
    assert "typed" not in [r["job_id"] for r in sandbox.runs()]


def test_command_and_script_replace_the_image_entrypoint(sandbox: Sandbox) -> None:
    """An image with its own ENTRYPOINT still runs the job's command and script as written,
    on both runtimes (as `--entrypoint` would)."""
    context = sandbox.base / "entrypoint-image"
    context.mkdir(exist_ok=True)
    (context / "Containerfile").write_text(
        'FROM alpine:3.20\nENTRYPOINT ["/bin/echo", "IMAGE-ENTRYPOINT"]\n')
    image = "localhost/flwd-entrypoint-test:latest"
    built = sandbox.runtime.cli("build", "-q", "-t", image, "-f", str(context / "Containerfile"),
                                str(context), timeout=120)
    assert built.returncode == 0, built.stderr
    sandbox.write_job("ep-command", f"executor: container\nimage: {image}\n"
                                    "command: [/bin/echo, from-command]\n")
    sandbox.write_job("ep-script", f"executor: container\nimage: {image}\nscript: main.sh\n",
                      {"main.sh": "echo from-script\n"})
    try:
        command = sandbox.flwd("ep-command")
        script = sandbox.flwd("ep-script")
    finally:
        sandbox.runtime.cli("rmi", "-f", image)

    assert (command.code, command.out) == (0, "from-command\n"), command.describe()
    assert (script.code, script.out) == (0, "from-script\n"), script.describe()


@pytest.mark.parametrize(("name", "command", "code"), [
    ("not-found", "/no/such/binary", 127), ("not-executable", "/tmp", 126),
])
def test_a_command_that_cannot_be_executed_exits_as_a_shell_would_on_every_runtime(
        sandbox: Sandbox, name: str, command: str, code: int) -> None:
    """Docker's init (tini) exits 127/126; Podman's (catatonit) exits 1, which flwd reads back."""
    sandbox.write_job(name, f"""\
        executor: container
        image: alpine:3.20
        command: ["{command}"]
        """)

    result = sandbox.flwd(name, "--json")

    finished = result.events()[-1]
    assert result.code == code, result.describe()
    assert finished["type"] == "run.finished"
    assert (finished["data"]["status"], finished["data"]["exit_code"]) == ("failed", code)
