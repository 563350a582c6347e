"""``flwd :completion SHELL``'s scripts, and the callback they make on each Tab:
``flwd :__complete WORD... CURRENT`` prints what to offer, read from the catalogue then.

The callback's output: a first line ``words``, ``files`` or ``dirs`` (the shell then
completes paths itself), then one candidate a line, ``VALUE<TAB>DESCRIPTION``. It must be
quick: it loads the configuration and what ``completion_cache`` kept of the job specs (the
specs themselves only when one changed), nothing else (no container, no runtime, no store,
no parser library).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence, TextIO

from flwd.domain.model import JobSpec
from flwd.entrypoints.cli.completion import SHELLS, JobSource, complete

CALLBACK = ":__complete"
_REMOTE_TIMEOUT = 2.0  # seconds a Tab may wait for a remote server

BASH = r"""# flwd completion for bash. Load it with: eval "$(flwd :completion bash)"
_flwd_complete() {
    local line=${COMP_LINE:0:COMP_POINT} cur=${COMP_WORDS[COMP_CWORD]} out l v strip=""
    local -a words lines
    read -ra words <<< "$line"
    if [[ ${#words[@]} -le 1 || $line == *[[:space:]] ]]; then words+=(""); fi
    out=$(command flwd :__complete "${words[@]:1}" 2>/dev/null) || return 0
    mapfile -t lines <<< "$out"
    COMPREPLY=()
    case ${lines[0]} in
        files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        dirs) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        words)
            # bash splits words at ':' and '=' too: offer only what follows the last split
            local full=${words[${#words[@]}-1]}
            if [[ $full == *"$cur" ]]; then strip=${full%"$cur"}; fi
            for l in "${lines[@]:1}"; do
                v=${l%%$'\t'*}
                if [[ -n $v ]]; then COMPREPLY+=("${v#"$strip"}"); fi
            done ;;
    esac
}
complete -F _flwd_complete flwd
"""

ZSH = r"""#compdef flwd
# flwd completion for zsh. Load it with: source <(flwd :completion zsh)  (after compinit)
_flwd() {
    local out kind line value
    local -a lines values shown
    out=$(command flwd :__complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    case ${lines[1]} in
        files) _files ;;
        dirs) _files -/ ;;
        words)
            for line in "${(@)lines[2,-1]}"; do
                value=${line%%$'\t'*}
                [[ -n $value ]] || continue
                values+=("$value")
                if [[ $line == *$'\t'?* ]]; then shown+=("$value  -- ${line#*$'\t'}")
                else shown+=("$value"); fi
            done
            (( ${#values} )) && compadd -l -d shown -a values ;;
    esac
}
if (( $+functions[compdef] )); then compdef _flwd flwd; fi
"""

FISH = r"""# flwd completion for fish. Load it with: flwd :completion fish | source
function __flwd_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out (command flwd :__complete $tokens[2..-1] "$current" 2>/dev/null)
    or return
    switch "$out[1]"
        case files
            __fish_complete_path "$current"
        case dirs
            __fish_complete_directories "$current" ""
        case words
            printf '%s\n' $out[2..-1]
    end
end
complete -c flwd -f -a '(__flwd_complete)'
"""

SCRIPTS = dict(zip(SHELLS, (BASH, ZSH, FISH)))


def run_callback(words: Sequence[str], out: TextIO, env: Mapping[str, str]) -> int:
    """Print the candidates for *words*; nothing when anything fails (a Tab never errs)."""
    try:
        completion = complete(list(words), lambda given: _source(given, env))
    except Exception:  # noqa: BLE001 - a broken config or spec: no candidates, no trace
        out.write("words\n")
        return 0
    out.write(completion.kind + "\n")
    out.write("".join(f"{c.value}\t{_one_line(c.help)}\n" for c in completion.candidates))
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _source(given: dict[str, list[str]], env: Mapping[str, str]) -> JobSource:
    """The catalogue the command line would read, after the global options typed."""
    from flwd.entrypoints.config import CliOverrides, load_config

    def last(name: str, *, path: bool = False) -> str | None:
        values = given.get(name)
        if not values:
            return None
        return os.path.expanduser(values[-1]) if path else values[-1]

    overrides = CliOverrides(
        config=last("--config", path=True), data_dir=last("--data-dir", path=True),
        jobs_dirs=tuple(os.path.expanduser(v) for v in given.get("--jobs-dir", ())),
        runtime=last("--runtime"), server=last("--server"), token=last("--token"))
    config = load_config(overrides, env)
    if config.server_url:
        return _RemoteJobs(config.server_url, config.token)
    from flwd.entrypoints.cli.completion_cache import CachedJobs
    from flwd.entrypoints.cli.main import VERSION

    return CachedJobs(config.jobs_dirs, config.data_path, VERSION)


class _RemoteJobs:
    """The jobs of a remote ``flwd :serve`` (``GET /jobs``, ``GET /jobs/{id}``)."""

    def __init__(self, url: str, token: str | None) -> None:
        from urllib.parse import urlsplit

        self._parts = urlsplit(url if "://" in url else f"http://{url}")
        self._token = token

    def jobs(self) -> Sequence[JobSpec]:
        from flwd.entrypoints.views import job_from_view

        listing = self._get("/jobs")
        return [job_from_view(view) for view in listing.get("jobs", ())]

    def job(self, job_id: str) -> JobSpec | None:
        from urllib.parse import quote

        from flwd.entrypoints.views import job_from_view

        view = self._get("/jobs/" + quote(job_id, safe=""))
        return job_from_view(view) if view else None

    def _get(self, path: str) -> dict[str, Any]:
        import http.client
        import json

        parts = self._parts
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(parts.hostname or "", parts.port, timeout=_REMOTE_TIMEOUT)
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            conn.request("GET", parts.path.rstrip("/") + path, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        result = json.loads(payload) if response.status < 400 and payload else {}
        return result if isinstance(result, dict) else {}
