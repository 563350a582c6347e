"""The YAML job catalog: which directories are jobs, what is loaded, and hostile files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flwd.adapters.yaml_catalog import MAX_SPEC_BYTES, YamlJobCatalog
from flwd.domain.spec.catalog import load_catalog
from flwd.ports.catalog import JobCatalog, JobDocument

SPEC = "executor: container\nimage: alpine:3.20\n"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "jobs"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _only(root: Path) -> JobDocument:
    docs = YamlJobCatalog([root]).documents()
    assert len(docs) == 1
    return docs[0]


def test_catalog_conforms_to_the_port_when_constructed_without_io(tmp_path: Path) -> None:
    catalog: JobCatalog = YamlJobCatalog([tmp_path / "not-created-yet"])

    assert list(catalog.documents()) == []


def test_documents_finds_every_spec_name_when_layouts_differ(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "job.yaml", SPEC)
    _write(tmp_path / "b" / "config.yaml", SPEC)
    _write(tmp_path / "c" / "config.d" / "config.yaml", SPEC)
    _write(tmp_path / "d" / "README.md", "not a job")

    docs = YamlJobCatalog([tmp_path]).documents()

    assert [(d.default_id, Path(d.spec_path).relative_to(tmp_path).as_posix()) for d in docs] == [
        ("a", "a/job.yaml"),
        ("b", "b/config.yaml"),
        ("c", "c/config.d/config.yaml"),
    ]
    assert all(d.data == {"executor": "container", "image": "alpine:3.20"} for d in docs)
    assert docs[2].directory == str(tmp_path / "c")


def test_documents_prefers_job_yaml_when_directory_holds_several_specs(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "job.yaml", SPEC)
    _write(tmp_path / "a" / "config.yaml", "executor: other\n")

    assert _only(tmp_path).spec_path.endswith("job.yaml")


def test_documents_finds_nested_jobs_but_not_inside_a_job_when_tree_is_deep(tmp_path: Path) -> None:
    _write(tmp_path / "backup" / "daily" / "job.yaml", SPEC)
    _write(tmp_path / "backup" / "weekly" / "job.yaml", SPEC)
    _write(tmp_path / "backup" / "daily" / "inner" / "job.yaml", SPEC)
    _write(tmp_path / ".hidden" / "job.yaml", SPEC)
    _write(tmp_path / "backup" / ".git" / "x" / "job.yaml", SPEC)

    docs = YamlJobCatalog([tmp_path]).documents()

    assert [d.default_id for d in docs] == ["backup/daily", "backup/weekly"]


def test_documents_walks_roots_in_order_when_several_are_given(tmp_path: Path) -> None:
    _write(tmp_path / "one" / "z" / "job.yaml", SPEC)
    _write(tmp_path / "two" / "a" / "job.yaml", SPEC)

    docs = YamlJobCatalog([tmp_path / "one", tmp_path / "missing", tmp_path / "two"]).documents()

    assert [d.default_id for d in docs] == ["z", "a"]


def test_documents_lists_each_job_once_when_roots_repeat_or_overlap(tmp_path: Path) -> None:
    _write(tmp_path / "jobs" / "a" / "job.yaml", SPEC)
    _write(tmp_path / "jobs" / "sub" / "b" / "job.yaml", SPEC)
    roots = [tmp_path / "jobs", tmp_path / "jobs" / ".." / "jobs", tmp_path / "jobs" / "sub"]

    docs = YamlJobCatalog(roots).documents()

    assert [d.default_id for d in docs] == ["a", "sub/b"]


def test_documents_lists_shell_scripts_and_script_file_when_present(tmp_path: Path) -> None:
    _write(tmp_path / "j" / "job.yaml", SPEC + "script: bin/run\n")
    _write(tmp_path / "j" / "b.sh", "")
    _write(tmp_path / "j" / "a.sh", "")
    _write(tmp_path / "j" / "bin" / "run", "")
    (tmp_path / "j" / "dir.sh").mkdir()

    doc = _only(tmp_path)

    assert doc.shell_scripts == ("a.sh", "b.sh")
    assert doc.files == frozenset({"a.sh", "b.sh", "bin/run"})


def test_documents_leaves_out_script_when_it_points_outside_the_directory(tmp_path: Path) -> None:
    _write(tmp_path / "secret.sh", "")
    _write(tmp_path / "jobs" / "j" / "job.yaml", SPEC + "script: main.sh\n")
    os.symlink(tmp_path / "secret.sh", tmp_path / "jobs" / "j" / "main.sh")

    doc = _only(tmp_path / "jobs")

    assert "main.sh" not in (doc.files or ())
    assert doc.shell_scripts == ()


def test_documents_does_not_loop_when_a_symlink_points_back_up(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "job.yaml", SPEC)
    os.symlink(tmp_path, tmp_path / "loop")

    docs = YamlJobCatalog([tmp_path]).documents()

    assert [d.default_id for d in docs] == ["a"]


def test_documents_names_root_as_the_job_when_root_is_itself_a_job(tmp_path: Path) -> None:
    _write(tmp_path / "hello" / "job.yaml", SPEC)

    assert _only(tmp_path / "hello").default_id == "hello"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("executor: container\n  image: [unclosed\n", "line 2"),
        ("- just\n- a list\n", "mapping"),
        ("", "empty"),
        ("a: !!python/object/apply:os.system [echo hi]\n", "invalid YAML"),
        ("--- {a: 1}\n--- {b: 2}\n", "invalid YAML"),
        ("executor: container\nimage: alpine\nargs: []\nargs: [{name: a, type: string}]\n",
         "line 4, column 1: duplicate key 'args'"),
        ("executor: container\nimage: alpine\ncontainer: {network: bridge, network: none}\n",
         "duplicate key 'network'"),
        # the second merge silently won: a reader sees network none, the job gets host
        ("executor: container\nimage: alpine\ncontainer:\n  <<: {network: none}\n"
         "  <<: {network: host}\n", "line 5, column 3: duplicate key '<<'"),
    ],
    ids=["syntax", "list", "empty", "python-tag", "two-documents", "duplicate-key", "duplicate-nested-key",
         "duplicate-merge-key"],
)
def test_documents_reports_yaml_error_when_file_cannot_be_parsed(tmp_path: Path, text: str, fragment: str) -> None:
    _write(tmp_path / "bad" / "job.yaml", text)
    _write(tmp_path / "good" / "job.yaml", SPEC)

    docs = YamlJobCatalog([tmp_path]).documents()

    bad = docs[0]
    assert bad.data is None and bad.error_field == "yaml"
    assert fragment in (bad.error or "")
    assert docs[1].data is not None


def test_documents_accepts_merge_key_when_it_overrides_a_merged_key(tmp_path: Path) -> None:
    _write(tmp_path / "m" / "job.yaml",
           "base: &b {network: bridge}\nexecutor: container\nimage: alpine\n"
           "container:\n  <<: *b\n  network: none\n")

    doc = _only(tmp_path)

    assert doc.data is not None and doc.data["container"] == {"network": "none"}


def test_documents_rejects_when_file_is_huge(tmp_path: Path) -> None:
    spec = tmp_path / "big" / "job.yaml"
    spec.parent.mkdir()
    with open(spec, "wb") as handle:
        handle.write(b"executor: container\n" + b"#" * (10 * MAX_SPEC_BYTES))

    doc = _only(tmp_path)

    assert doc.data is None and doc.error_field == "file"
    assert "limit" in (doc.error or "")


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_documents_rejects_when_nesting_is_deep(tmp_path: Path, flow: bool) -> None:
    depth = 10_000
    if flow:
        text = "a: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v: 1\n"
    _write(tmp_path / "deep" / "job.yaml", text)

    doc = _only(tmp_path)

    assert doc.data is None and doc.error_field == "yaml"
    assert "nest" in (doc.error or "")  # ours, or libyaml's own flow-level limit


def test_documents_rejects_when_aliases_explode(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    _write(tmp_path / "bomb" / "job.yaml", "\n".join(lines) + "\n")

    doc = _only(tmp_path)

    assert doc.data is None and doc.error_field == "yaml"
    assert "expands" in (doc.error or "")


def test_documents_rejects_alias_when_it_refers_to_its_own_collection(tmp_path: Path) -> None:
    _write(tmp_path / "loop" / "job.yaml", SPEC + "args: &a [*a]\n")

    doc = _only(tmp_path)

    assert doc.data is None and doc.error_field == "yaml"
    assert "line 3" in (doc.error or "")


def test_documents_accepts_modest_aliases_when_spec_reuses_a_block(tmp_path: Path) -> None:
    text = SPEC + "x-common: &common {type: string}\nargs:\n  - {name: a, <<: *common}\n  - {name: b, <<: *common}\n"
    _write(tmp_path / "j" / "job.yaml", text)

    doc = _only(tmp_path)

    assert doc.data is not None
    assert doc.data["args"] == [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]


def test_documents_reports_file_error_when_spec_is_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    os.mkfifo(tmp_path / "j" / "job.yaml")

    doc = _only(tmp_path)

    assert doc.data is None and doc.error_field == "file"


def test_documents_loads_twenty_jobs_when_catalog_is_typical(tmp_path: Path) -> None:
    for index in range(20):
        _write(tmp_path / f"job{index:02d}" / "job.yaml", SPEC + "args:\n  - {name: who, type: string}\n")
        _write(tmp_path / f"job{index:02d}" / "main.sh", "echo hi\n")
    catalog = YamlJobCatalog([tmp_path])
    catalog.documents()  # warm the file cache

    docs = catalog.documents()

    assert len(docs) == 20 and all(d.data is not None for d in docs)


def test_examples_load_as_valid_jobs_when_read_from_the_repository() -> None:
    catalog = load_catalog(YamlJobCatalog([EXAMPLES]).documents())

    assert catalog.invalid == ()
    demo = catalog.find("demo-container")
    assert demo.image == "alpine:3.20"
    assert demo.command == ("/bin/sh", "/flwd/job/main.sh")
    assert [(a.name, a.required) for a in demo.args] == [("name", True)]
    assert any(arg.secret for job in catalog.jobs for arg in job.args)


def test_unchanged_spec_is_not_parsed_again_when_documents_are_listed_twice(tmp_path: Path) -> None:
    job = tmp_path / "cached"
    job.mkdir()
    (job / "job.yaml").write_text("executor: container\nimage: alpine:3.20\n")
    catalog = YamlJobCatalog([tmp_path])

    first, second = catalog.documents(), catalog.documents()

    assert first[0] is second[0]


def test_changed_spec_is_read_again_when_its_file_changes(tmp_path: Path) -> None:
    job = tmp_path / "cached"
    job.mkdir()
    spec = job / "job.yaml"
    spec.write_text("executor: container\nimage: alpine:3.20\n")
    catalog = YamlJobCatalog([tmp_path])
    catalog.documents()

    spec.write_text("executor: container\nimage: alpine:3.21\nname: changed\n")
    doc = catalog.documents()[0]

    assert doc.data is not None and doc.data["image"] == "alpine:3.21"


def test_roots_are_walked_at_most_once_per_rescan_period(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "job.yaml").write_text("executor: container\nimage: alpine:3.20\n")
    catalog = YamlJobCatalog([tmp_path], rescan_seconds=60)
    before = catalog.documents()
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "job.yaml").write_text("executor: container\nimage: alpine:3.20\n")

    after = catalog.documents()

    assert [d.default_id for d in after] == [d.default_id for d in before] == ["first"]


def test_new_job_is_seen_soon_after_the_rescan_period(tmp_path: Path) -> None:
    catalog = YamlJobCatalog([tmp_path], rescan_seconds=0.05)
    assert catalog.documents() == []
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "job.yaml").write_text("executor: container\nimage: alpine:3.20\n")
    time.sleep(0.1)

    deadline = time.monotonic() + 5
    while not catalog.documents() and time.monotonic() < deadline:
        time.sleep(0.02)

    assert [d.default_id for d in catalog.documents()] == ["late"]
