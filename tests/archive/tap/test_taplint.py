"""STILTS taplint (TAP 1.1, every stage: TMV/CPV/.../UWS/UPL/EXA) against the running service."""

import re
import subprocess

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tap_url(web_service, worker_settings):
    return f"{web_service}/tap"


def taplint(url: str, *extra: str) -> str:
    out = subprocess.run(
        ["stilts", "taplint", f"tapurl={url}", "interface=tap1.1", "format=text", *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.stdout + out.stderr


def test_taplint_reports_no_errors(tap_url):
    report = taplint(tap_url, "maxrepeat=3")
    summary = re.search(r"Totals: Errors: (\d+); Warnings: (\d+)", report)
    assert summary, report[-3000:]
    errors = [line for line in report.splitlines() if line.startswith("E-")]
    print("\n".join(line for line in report.splitlines() if line[:2] in ("E-", "W-", "S-")))
    print(summary.group(0))
    assert int(summary.group(1)) == 0, "\n".join(errors)
