import os

import pytest

from paths import DATASETS


def in_ci() -> bool:
    """CI sets CI=true (GitHub Actions, GitLab, our .ci/run's caller)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """In CI a test module skipped whole (pytest.importorskip of a missing extra) is a failure:
    CI installs every extra, so such a skip means a test suite silently did not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and isinstance(collector, pytest.Module):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid}: module skipped in CI ({reason}); CI must install every extra"


CI_OPTIONAL_IMPORTS = ("gcld3",)  # .ci/run tolerates its build failing (it needs Debian's protobuf compiler), visibly


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a test skipped inside its body by pytest.importorskip of a missing module is a
    failure too (only CI_OPTIONAL_IMPORTS, whose install .ci/run reports, may be missing)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        missing = reason.split("'")[1] if reason.startswith("could not import '") else None
        if missing is not None and missing.split(".")[0] not in CI_OPTIONAL_IMPORTS:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid}: skipped in CI ({reason}); CI must install every extra"


@pytest.fixture
def datasets():
    if not DATASETS.exists():
        pytest.fail(f"the shared datasets are missing: {DATASETS}")
    return DATASETS
