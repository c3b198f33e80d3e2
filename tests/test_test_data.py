"""The test suite's own rule for offline data (tests/conftest.py): a missing data set skips a test on a developer
machine and FAILS it under CI (``CI=true``), so that CI cannot pass by skipping the tests on real data."""

from __future__ import annotations

import pytest

import conftest


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_missing_data_is_a_skip_outside_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="offline data not found"):
        conftest.shared("no such folder")


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_missing_data_is_a_failure_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"offline data not found.*CI=true"):
        conftest.shared("no such folder")
    monkeypatch.setattr(conftest, "FASHION_MNIST", conftest.FASHION_MNIST / "no such folder")
    with pytest.raises(pytest.fail.Exception, match=r"Fashion-MNIST not installed.*dataset-fashion-mnist"):
        conftest.fashion_mnist_root()


def test_a_missing_test_extra_package_is_a_skip_outside_ci_and_a_failure_under_ci(monkeypatch):
    assert conftest.require("json").loads("1") == 1
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="no_such_package is not installed"):
        conftest.require("no_such_package")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no_such_package is not installed.*CI=true"):
        conftest.require("no_such_package")
