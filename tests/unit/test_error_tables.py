"""Every coded error has one unique code, an HTTP status and a CLI exit status."""

from __future__ import annotations

from flwd.domain.errors import all_error_classes
from flwd.entrypoints.cli.exit_codes import EXIT_FOR_CODE
from flwd.entrypoints.http.problems import STATUS_FOR_CODE


def test_error_codes_are_unique_across_all_error_classes() -> None:
    codes = [cls.code for cls in all_error_classes() if "code" in vars(cls)]

    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


def test_every_error_code_has_http_status_and_exit_code() -> None:
    codes = {cls.code for cls in all_error_classes()}

    assert codes - STATUS_FOR_CODE.keys() == set()
    assert codes - EXIT_FOR_CODE.keys() == set()


def test_tables_name_no_code_that_no_error_class_declares() -> None:
    codes = {cls.code for cls in all_error_classes()}

    assert STATUS_FOR_CODE.keys() - codes == set()


def test_only_the_last_resort_code_maps_to_500() -> None:
    assert [code for code, status in STATUS_FOR_CODE.items() if status == 500] == ["flwd.internal"]
