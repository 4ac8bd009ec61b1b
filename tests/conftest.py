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


@pytest.fixture
def datasets():
    if not DATASETS.exists():
        pytest.fail(f"the shared datasets are missing: {DATASETS}")
    return DATASETS
