"""Job specs: validate one found spec document into a ``JobSpec`` (SPEC section 1)."""

from __future__ import annotations

import re
import shlex
from enum import StrEnum
from pathlib import PurePosixPath
from collections.abc import Mapping  # isinstance against typing.Mapping is slow
from typing import Callable, TypeVar

from flwd.domain.spec.capabilities import parse_capability
from flwd.domain.spec.images import parse_image_ref
from flwd.domain.spec.args import parse_arg_specs, spec_error
from flwd.domain.suggest import did_you_mean
from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import (
    JOB_DIR,
    ArgSpec,
    ContainerRequest,
    JobSpec,
    Profile,
    PullPolicy,
    Resources,
)
from flwd.domain.spec.quantity import parse_cpu, parse_duration, parse_memory, parse_pids
from flwd.domain.args.ulc import MAX_ENV_STRING_BYTES, OVER_ENV_LIMIT, env_string_bytes
from flwd.ports.catalog import JobDocument

_ID = re.compile(r"^[A-Za-z0-9._/-]+\Z")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# a network name or a runtime's network mode (bridge, container:ID, slirp4netns:OPTS, ns:PATH)
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=,/+-]{0,254}\Z")
_RESERVED_ENV_PREFIXES = ("ARG_", "FLWD_")
_CONTAINER_KEYS = ("network", "rootfs_writable", "capabilities", "env_inheritance", "resources", "pull_policy")
_RESOURCE_KEYS = ("cpu", "memory", "pids")
_IMAGE_PREFIX = "container:"
_NUL = "must not contain NUL characters (no process can be given them)"
_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)
# every top-level key SPEC section 1 gives a job spec; any other is ignored with a warning
TOP_LEVEL_KEYS = frozenset({
    "id", "name", "description", "executor", "interpreter", "image", "script", "command",
    "args", "argspec", "security_profile", "timeout", "env", "container", "queue",
})
DEFAULT_QUEUE = "default"
# a queue name, like a runner tag: it names Celery queues (Redis keys, AMQP queues) as it is
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")


def parse_job_spec(doc: JobDocument) -> JobSpec:
    """Validate one spec document against SPEC section 1 and return the ``JobSpec``.

    Unknown top-level keys are ignored (forward compatible) and named in ``warnings``, with
    the known key they most resemble; known keys of the wrong type,
    unknown keys under ``container:``, a missing ``executor`` or image, bad ``args`` and a
    document the catalog could not read all raise ``SpecInvalidError`` (code ``spec.invalid``)
    whose detail starts with ``<spec file>: <dotted field>:`` and whose context carries
    ``file`` and ``field``.
    """
    path = doc.spec_path
    if doc.data is None:
        raise spec_error(path, doc.error_field or "yaml", doc.error or "could not be read")
    data = doc.data
    _check_executor(path, data)
    script, command = _parse_entry(doc, data)
    return JobSpec(
        id=_parse_id(path, data.get("id"), doc.default_id),
        directory=doc.directory,
        spec_path=path,
        image=_parse_image(path, data),
        name=_optional_str(path, data, "name"),
        description=_optional_str(path, data, "description"),
        script=script,
        command=command,
        args=_parse_args(path, data),
        security_profile=_parse_enum_value(path, "security_profile", data.get("security_profile"), Profile),
        timeout_seconds=_quantity(path, "timeout", data.get("timeout"), parse_duration),
        env=_parse_env(path, data.get("env")),
        container=_parse_container(path, data.get("container")),
        queue=_parse_queue(path, data.get("queue")),
        warnings=_unknown_keys(data),
    )


def _unknown_keys(data: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(f"unknown key {str(key)!r} ignored{did_you_mean(str(key), sorted(TOP_LEVEL_KEYS))}"
                 for key in data if key not in TOP_LEVEL_KEYS)


def _check_executor(path: str, data: Mapping[str, object]) -> None:
    executor = data.get("executor")
    if executor is None:
        raise spec_error(path, "executor", "missing (required; only 'container' is supported)")
    if executor != "container":
        raise spec_error(path, "executor", f"{executor!r} is not supported (only 'container' is)")


def _parse_id(path: str, value: object, default_id: str) -> str:
    if value is None:
        job_id, where = default_id, "id"
        hint = " (derived from the directory; set id: to override)"
    else:
        job_id, where, hint = value, "id", ""  # type: ignore[assignment]
    if not isinstance(job_id, str) or not is_valid_job_id(job_id):
        raise spec_error(
            path,
            where,
            f"{job_id!r} is not a valid job id{hint}: use [A-Za-z0-9._/-], "
            "no leading '/' or '-', no empty or '..' segment",
        )
    return job_id


def is_valid_job_id(job_id: str) -> bool:
    """A job id is ``[A-Za-z0-9._/-]+`` without a leading ``/`` or ``-`` (the CLI would read
    it as an option), an empty or a ``..``/``.`` segment."""
    if not _ID.match(job_id) or job_id.startswith(("/", "-")) or job_id.endswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in job_id.split("/"))


def _optional_str(path: str, data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise spec_error(path, key, f"must be a string, not {type(value).__name__}")
    return value


def _parse_image(path: str, data: Mapping[str, object]) -> str:
    images: dict[str, str] = {}
    interpreter = data.get("interpreter")
    if interpreter is not None:
        if not isinstance(interpreter, str) or not interpreter.startswith(_IMAGE_PREFIX):
            raise spec_error(
                path, "interpreter", f"{interpreter!r} is not supported (expected 'container:IMAGE')"
            )
        images["interpreter"] = _image_text(path, "interpreter", interpreter[len(_IMAGE_PREFIX):])
    image = data.get("image")
    if image is not None:
        if not isinstance(image, str):
            raise spec_error(path, "image", f"must be a string, not {type(image).__name__}")
        images["image"] = _image_text(path, "image", image)
    if not images:
        raise spec_error(path, "image", "missing: give image: IMAGE or interpreter: \"container:IMAGE\"")
    if len(set(images.values())) > 1:
        raise spec_error(
            path, "image", f"{images['image']!r} disagrees with interpreter {images['interpreter']!r}"
        )
    return next(iter(images.values()))


def _image_text(path: str, key: str, text: str) -> str:
    image = text.strip()
    try:
        parse_image_ref(image)
    except SpecInvalidError as exc:
        raise spec_error(path, key, exc.detail) from None
    return image


def _parse_entry(doc: JobDocument, data: Mapping[str, object]) -> tuple[str | None, tuple[str, ...] | None]:
    path = doc.spec_path
    raw_script, raw_command = data.get("script"), data.get("command")
    if raw_script is not None and raw_command is not None:
        raise spec_error(path, "command", "script and command are exclusive: give one of them")
    if raw_command is not None:
        return None, _parse_command(path, raw_command)
    if raw_script is not None:
        script = _parse_script(doc, raw_script)
    elif len(doc.shell_scripts) == 1:
        script = doc.shell_scripts[0]
    else:
        return None, None
    return script, ("/bin/sh", f"{JOB_DIR}/{script}")


def _parse_script(doc: JobDocument, raw: object) -> str:
    path = doc.spec_path
    if not isinstance(raw, str) or not raw.strip():
        raise spec_error(path, "script", "must be a path relative to the job directory")
    script = PurePosixPath(raw)
    if script.is_absolute() or ".." in script.parts or any(ord(c) < 32 or c == "\\" for c in raw):
        raise spec_error(path, "script", f"{raw!r} must be a relative path inside the job directory")
    name = str(script)
    if name == "." or (doc.files is not None and name not in doc.files):
        raise spec_error(path, "script", f"{raw!r} is not a file in the job directory {doc.directory}")
    return name


def _parse_command(path: str, raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            raise spec_error(path, "command", f"cannot be split into words: {exc}") from None
        if "\x00" in raw:
            raise spec_error(path, "command", _NUL)
    elif isinstance(raw, list):
        words = []
        for index, word in enumerate(raw):
            # Numbers are words too (`command: [sleep, 10]`); anything else is a mistake.
            if isinstance(word, bool) or not isinstance(word, (str, int, float)):
                raise spec_error(path, f"command[{index}]", f"must be a string, not {word!r}")
            if "\x00" in str(word):
                raise spec_error(path, f"command[{index}]", _NUL)
            words.append(str(word))
    else:
        raise spec_error(path, "command", "must be a list of strings or one command line")
    if not words:
        raise spec_error(path, "command", "must not be empty (omit it to use the image's entrypoint)")
    return tuple(words)


def _parse_args(path: str, data: Mapping[str, object]) -> tuple[ArgSpec, ...]:
    if "argspec" not in data or data.get("argspec") is None:
        return parse_arg_specs(data.get("args"), spec_path=path)
    if data.get("args") is not None:
        raise spec_error(path, "argspec", "args and argspec are aliases: give only one")
    argspec = data["argspec"]
    if not isinstance(argspec, Mapping):
        raise spec_error(path, "argspec", "must be a mapping with an args list")
    return parse_arg_specs(argspec.get("args"), spec_path=path, field="argspec.args")


def _parse_enum_value(path: str, key: str, value: object, enum: type[_E]) -> _E | None:
    if value is None:
        return None
    for member in enum:
        if isinstance(value, str) and value.strip().lower() == member.value:
            return member
    choices = ", ".join(member.value for member in enum)
    raise spec_error(path, key, f"{value!r} is not one of {choices}")


def _quantity(path: str, key: str, value: object, parse: Callable[[object, str], _T]) -> _T | None:
    if value is None:
        return None
    if isinstance(value, (bool, list, dict)):
        raise spec_error(path, key, f"must be a scalar quantity, not {value!r}")
    try:
        return parse(value, key)
    except SpecInvalidError as exc:
        message = exc.detail.split(": ", 1)[-1]
        raise spec_error(path, key, message) from None


def is_queue_name(name: str) -> bool:
    return bool(_QUEUE.match(name))


def _parse_queue(path: str, raw: object) -> str:
    """``queue:`` (SPEC section 11): which workers may take the job's runs."""
    if raw is None:
        return DEFAULT_QUEUE
    if not isinstance(raw, str) or not _QUEUE.match(raw):
        raise spec_error(path, "queue", f"{raw!r} is not a queue name: 1-63 of [A-Za-z0-9._-], "
                                        "starting with a letter or digit")
    return raw


def _parse_env(path: str, raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise spec_error(path, "env", "must be a mapping of NAME: value")
    env: dict[str, str] = {}
    for name, value in raw.items():
        field = f"env.{name}"
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise spec_error(path, field, f"{name!r} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
        if name.upper().startswith(_RESERVED_ENV_PREFIXES):
            raise spec_error(path, field, "names starting with ARG_ or FLWD_ are reserved for flwd")
        if isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            if "\x00" in str(value):
                raise spec_error(path, field, _NUL)
            env[name] = str(value)
            if env_string_bytes(name, env[name]) > MAX_ENV_STRING_BYTES:
                raise spec_error(path, field, f"too long: {OVER_ENV_LIMIT}")
        else:
            raise spec_error(path, field, f"must be a string, number or boolean, not {value!r}")
    return env


def _parse_container(path: str, raw: object) -> ContainerRequest:
    if raw is None:
        return ContainerRequest()
    section = _mapping(path, "container", raw, _CONTAINER_KEYS)
    network = section.get("network")
    if network is not None and (not isinstance(network, str) or not _NETWORK.match(network.strip())):
        raise spec_error(path, "container.network", f"{network!r} is not a network name such as "
                         "bridge or none ([A-Za-z0-9_.:=,/+-], starting with a letter or digit)")
    pull = _parse_enum_value(path, "container.pull_policy", section.get("pull_policy"), PullPolicy)
    return ContainerRequest(
        network=network.strip() if isinstance(network, str) else None,
        rootfs_writable=_bool(path, "container.rootfs_writable", section.get("rootfs_writable")),
        capabilities=_parse_capabilities(path, section.get("capabilities")),
        env_inheritance=_bool(path, "container.env_inheritance", section.get("env_inheritance")),
        resources=_parse_resources(path, section.get("resources")),
        pull_policy=pull or PullPolicy.IF_NOT_PRESENT,
    )


def _mapping(path: str, field: str, raw: object, keys: tuple[str, ...]) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise spec_error(path, field, f"must be a mapping with keys {', '.join(keys)}")
    for key in raw:
        if key not in keys:
            raise spec_error(path, f"{field}.{key}", f"unknown key (allowed: {', '.join(keys)})")
    return raw


def _bool(path: str, field: str, value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise spec_error(path, field, f"must be true or false, not {value!r}")
    return value


def _parse_capabilities(path: str, raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise spec_error(path, "container.capabilities", "must be a list of capability names")
    caps: list[str] = []
    for index, item in enumerate(raw):
        try:
            cap = parse_capability(item)
        except ValueError as exc:
            raise spec_error(path, f"container.capabilities[{index}]", str(exc)) from None
        if cap not in caps:
            caps.append(cap)
    return tuple(caps)


def _parse_resources(path: str, raw: object) -> Resources:
    if raw is None:
        return Resources()
    section = _mapping(path, "container.resources", raw, _RESOURCE_KEYS)
    return Resources(
        cpu_millis=_quantity(path, "container.resources.cpu", section.get("cpu"), parse_cpu),
        memory_bytes=_quantity(path, "container.resources.memory", section.get("memory"), parse_memory),
        pids=_quantity(path, "container.resources.pids", section.get("pids"), parse_pids),
    )
