"""The command line, declared once: global options, run options and every ``:command``.

The global-option scan (``argv``), the ``:command`` parser (``command_parser``, Cyclopts), the
run options of ``job_parser`` and every help text (``usage``) read these declarations. Plain
data, so that ``flwd --help`` renders without importing a parser library. Start-up also
explains the NamedTuples (a frozen dataclass takes ~0.5 ms to create) and the absence of
``from __future__ import annotations`` here and in the modules defining the other NamedTuples
of a start (argv, command_parser, job_parser): with it, each field's annotation becomes a
``ForwardRef``, whose text is compiled when the class is made.
"""

from typing import NamedTuple


class Option(NamedTuple):
    """``--name VALUE`` (a *metavar* is given) or the flag ``--name``."""

    name: str
    help: str
    metavar: str = ""
    aliases: tuple[str, ...] = ()
    repeatable: bool = False  # each value counts (a tuple); otherwise the last one given
    dest: str = ""  # the field it fills; default: the name without dashes, "-" as "_"

    @property
    def flag(self) -> bool:
        return not self.metavar

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def field(self) -> str:
        return self.dest or self.name.lstrip("-").replace("-", "_")

    @property
    def synopsis(self) -> str:
        return f"{self.name} {self.metavar}" if self.metavar else self.name


class Operand(NamedTuple):
    """A positional argument: ``RUN_ID``."""

    name: str
    help: str

    @property
    def field(self) -> str:
        return self.name.lower()


class Command(NamedTuple):
    """A ``:command``. With *run_options* (not None) the first operand is a job: after it
    come the job's own ``--ARG`` options and these, parsed by ``job_parser``."""

    name: str
    summary: str
    description: str = ""
    operands: tuple[Operand, ...] = ()
    options: tuple[Option, ...] = ()
    run_options: tuple[Option, ...] | None = None

    @property
    def takes_job(self) -> bool:
        return self.run_options is not None

    @property
    def synopsis(self) -> str:
        parts = [self.name, *(operand.name for operand in self.operands)]
        if self.takes_job:
            parts.append("[--ARG VALUE ...]")
        parts += [f"[{option.synopsis}{' ...' if option.repeatable else ''}]"
                  for option in (*self.options, *(self.run_options or ()))]
        return " ".join(parts)


HELP = Option(name="--help", aliases=("-h",), help="show this help and exit")
VERSION = Option(name="--version", help="print flwd's version and exit")

GLOBAL_OPTIONS = (
    Option(name="--jobs-dir", metavar="DIR", dest="jobs_dirs", repeatable=True,
           help="jobs root (repeatable; env FLWD_JOBS_DIR)"),
    Option(name="--config", metavar="FILE",
           help="config file (default: ./flwd.yaml, ~/.config/flwd/flwd.yaml)"),
    Option(name="--runtime", metavar="auto|podman|docker",
           help="container runtime (env FLWD_RUNTIME; default: auto)"),
    Option(name="--data-dir", metavar="DIR", help="runs, events and artifacts (env FLWD_DATA_DIR)"),
    Option(name="--server", metavar="URL", help="drive a remote `flwd :serve` (env FLWD_SERVER)"),
    Option(name="--token", metavar="T", help="API token for --server (env FLWD_TOKEN)"),
)

# SPEC section 7: after the job name these are flwd's, every other option is the job's.
# The domain refuses argument names that would shadow them (RESERVED_ARG_NAMES).
PROFILE = Option(name="--profile", metavar="P",
                 help="Security profile to request: secure, permissive or disabled.")
JSON = Option(name="--json", help="Print the run's events as NDJSON.")
DETACH = Option(name="--detach", help="Start the run and print its id without waiting.")
RUN_OPTIONS = (PROFILE, JSON, DETACH)

RUN = Command(name="JOB", summary="run a job; `flwd JOB --help` lists its arguments",
              run_options=RUN_OPTIONS)

COMMANDS = (
    Command(name=":jobs", summary="list jobs (invalid ones with their reason)",
            description="List jobs; invalid ones are shown with their reason.",
            options=(Option(name="--json", help="print the listing as one JSON document"),)),
    Command(name=":plan", summary="show what would run, without any container runtime",
            description="Show what a run would do: image, command, profile, decisions and\n"
                        "arguments (secrets as placeholders). Needs no container runtime.",
            operands=(Operand(name="JOB", help="the job's id; `flwd JOB --help` lists its "
                                               "arguments"),),
            run_options=(PROFILE, Option(name="--json", help="print the plan as JSON"))),
    Command(name=":serve", summary="serve the REST API",
            description="Serve the REST API (SPEC section 8).",
            options=(
                Option(name="--bind", metavar="HOST:PORT", help="address to listen on (default: "
                       "server.bind, FLWD_BIND or 127.0.0.1:8080)"),
                Option(name="--dev", help="add the token `dev-token` with every scope; loopback "
                                          "addresses only"),
                Option(name="--profile", metavar="P",
                       help="default security profile: secure | permissive | disabled"),
                Option(name="--no-runtime", help="plan-only: no container runtime needed; "
                                                 "POST /runs answers 422"),
                Option(name="--local", help="serve only this user's `flwd JOB` runs, on the "
                                            "unix socket in the data directory (no TCP, no "
                                            "token); every :serve also listens there"),
            )),
    # cluster mode (SPEC section 11)
    Command(name=":worker", summary="take runs from the cluster's queue and run them here",
            description="Take runs from the cluster's queue (queue_url) and execute them on this\n"
                        "host's runtime, recording them in the shared store (store_url). SIGTERM\n"
                        "cancels the runs in progress and stops; a second one kills them.",
            options=(
                Option(name="--queue", metavar="Q", repeatable=True, dest="queues",
                       help="a queue to take runs from (repeatable; default: default); jobs "
                            "name theirs with `queue:`"),
                Option(name="--concurrency", metavar="N",
                       help="runs executed at once (default: max_concurrent_runs)"),
            )),
    Command(name=":runs", summary="list recorded runs",
            description="List recorded runs, newest first.",
            options=(Option(name="--job", metavar="J", help="only this job's runs"),
                     Option(name="--status", metavar="S", help="only runs in this status"),
                     Option(name="--json", help="print the runs as one JSON document"))),
    Command(name=":logs", summary="print a run's output",
            description="Print a run's output; --follow waits for the run to end.",
            operands=(Operand(name="RUN_ID", help="the run's id"),),
            options=(Option(name="--follow", help="wait for the run to end and exit with its "
                                                  "code"),)),
    Command(name=":cancel", summary="cancel an active run",
            description="Cancel an active run (graceful stop, then kill after the grace "
                        "period).",
            operands=(Operand(name="RUN_ID", help="the run's id"),)),
    Command(name=":doctor", summary="check the container runtime",
            description="Find the container runtime: version, rootless or not, socket, problems.",
            options=(Option(name="--json", help="print the report as one JSON document"),)),
    Command(name=":sources", summary="list OCI add-on sources; add, refresh or remove one",
            description="List the add-on sources (SPEC section 10), or manage one:\n"
                        "  flwd :sources add NAME REF --trusted [--pull-policy on-add|on-run]\n"
                        "  flwd :sources refresh NAME\n"
                        "  flwd :sources remove NAME",
            options=(Option(name="--json", help="print the sources as one JSON document"),)),
    Command(name=":workers", summary="list the live workers (cluster mode)",
            description="List cluster mode's live workers: host, queues, runtime and rootless\n"
                        "flag, concurrency, active runs, last heartbeat (SPEC section 11).",
            options=(Option(name="--json", help="print the workers as one JSON document"),)),
    Command(name=":completion", summary="print a shell completion script",
            description="Print a completion script for bash, zsh or fish: commands, job ids,\n"
                        "a job's arguments and their values, read from the catalogue on each Tab.\n"
                        "bash: eval \"$(flwd :completion bash)\"   zsh: source <(flwd :completion zsh)"
                        "\nfish: flwd :completion fish | source",
            operands=(Operand(name="SHELL", help="bash, zsh or fish"),)),
)
COMMANDS_BY_NAME = {command.name: command for command in COMMANDS}

# `flwd :sources ACTION ...`: each action read like a :command of its own
_SOURCE_NAME = Operand(name="NAME", help="the source's name (its jobs are NAME/JOB)")
_SOURCE_JSON = Option(name="--json", help="print the result as one JSON document")
SOURCE_ACTIONS = {
    "add": Command(name=":sources add", summary="add an OCI add-on: pull, pin, read its manifest",
                   operands=(_SOURCE_NAME, Operand(name="REF", help="the add-on image, e.g. "
                                                   "registry.example/pg-tools:2")),
                   options=(Option(name="--trusted", help="required: you trust the add-on's "
                                                          "publisher (it runs its own code)"),
                            Option(name="--pull-policy", metavar="P",
                                   help="on-add (default): pinned until refresh; on-run: pulled "
                                        "and re-pinned before each run"),
                            _SOURCE_JSON)),
    "refresh": Command(name=":sources refresh", summary="pull again, re-pin, say what changed",
                       operands=(_SOURCE_NAME,), options=(_SOURCE_JSON,)),
    "remove": Command(name=":sources remove", summary="remove a source (past runs stay)",
                      operands=(_SOURCE_NAME,), options=(_SOURCE_JSON,)),
}

ABOUT = "Run typed-argument jobs in hardened, rootless containers (Podman or Docker)."
EXIT_CODES = ("Exit codes: the job's own; 2 usage or invalid spec/arguments; 124 timed out;\n"
              "125 flwd or runtime error; 130 canceled.")
