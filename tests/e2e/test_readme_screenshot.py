"""The README's screenshot: the status page of dependencies.example.yaml's demo entries,
probed by the real prober against the demo peers `make run` starts (`python -m demo.peers`),
in headless Chromium at 1440 x 900 px. It goes to test-output/browser/readme.png, and to
docs/screenshot.png only with SEAHEALTH_UPDATE_SCREENSHOT=1, so that a test run leaves the
tree as it was.

The example's other entries are public endpoints on the internet: a test reaches none, so
they are left out here."""

# The browser fixtures come from test_browser.py, and tests take them as arguments.
# ruff: noqa: F811

from __future__ import annotations

import os
import shutil
import socket
import struct
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from probes import rollups
from probes.models import Dependency
from tests.conftest import ROOT
from tests.databases import subprocess_env
from tests.e2e.site import Site
from tests.e2e.test_browser import (  # noqa: F401 - fixtures
    SCREENSHOTS,
    Chromium,
    account,
    chromium,
    log_in,
)
from tests.processes import Process, StartProcess
from tests.servers import unused_port

# What a browser lays out and reads does not depend on the database engine: SQLite pass only.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.engine_agnostic]

EXAMPLE = ROOT / "dependencies.example.yaml"
SCREENSHOT = ROOT / "docs" / "screenshot.png"
WIDTH, HEIGHT = 1440, 900
DEMO_PORT = 8900  # the example's, and its SMTP relay and S3 store one and two up
DEMO_ENV = {
    "DEMO_S3_KEY_ID": "demo",
    "DEMO_S3_SECRET": "demo",
    "DEMO_HOOK_SECRET": "demo-hook",
    "DEMO_PING_TOKEN": "demo-ping-token",
}
# Every demo entry checked twice: the slowest is probed every 10 s, at a random first phase.
# For the README's picture, demo-crm's bar full too (40 checks, 2 s apart).
UPDATE = os.environ.get("SEAHEALTH_UPDATE_SCREENSHOT") == "1"
CHECKS, FULL_BAR = 2, {"demo-crm": 40} if UPDATE else {}
PROBING_TIMEOUT = 120.0


def free_ports(count: int) -> int:
    """The first of `count` consecutive loopback ports where nothing listens."""
    for _ in range(50):
        first = unused_port()
        try:
            for port in range(first + 1, first + count):
                with socket.create_server(("127.0.0.1", port)):
                    pass
        except OSError:
            continue
        return first
    raise AssertionError(f"no {count} consecutive free ports")


def demo_declaration(directory: Path, port: int) -> tuple[Path, list[str]]:
    """The example as written, less its public entries and the maintenance window that
    matches them, the demo peers moved to `port` and the two above it; the file and the
    names of its entries."""
    text = EXAMPLE.read_text()
    moved = {
        f"127.0.0.1:{DEMO_PORT}": f"127.0.0.1:{port}",
        f"port: {DEMO_PORT + 1}": f"port: {port + 1}",
        f"127.0.0.1:{DEMO_PORT + 2}": f"127.0.0.1:{port + 2}",
    }
    for old, new in moved.items():
        assert old in text, f"{EXAMPLE.name} no longer has {old}: update this test"
        text = text.replace(old, new)
    # Its sections and entries are paragraphs: blank lines apart.
    kept = [
        paragraph
        for paragraph in text.split("\n\n")
        if "group: public" not in paragraph and "\nmaintenance:" not in f"\n{paragraph}"
    ]
    text = "\n\n".join(kept)
    entries = yaml.safe_load(text)["dependencies"]
    assert {entry["group"] for entry in entries} == {"demo"}, "an entry of another group"
    path = directory / "dependencies.yaml"
    path.write_text(text)
    return path, [entry["name"] for entry in entries]


def start_demo_peers(start_process: StartProcess, port: int, ping: str) -> Process:
    """The demo peers, their job reporting in at `ping`."""
    command = [sys.executable, "-m", "demo.peers", "--port", str(port), "--ping", ping]
    peers = start_process("demo-peers", command, env=subprocess_env())
    # It answers HTTP once its SMTP relay and S3 store are up.
    deadline = time.monotonic() + 30
    while True:
        peers.check_running()
        try:
            health = f"http://127.0.0.1:{port}/payments/health"
            with urllib.request.urlopen(health, timeout=1) as answer:
                if answer.status == 200:
                    return peers
        except OSError:
            pass
        assert time.monotonic() < deadline, "the demo peers did not answer within 30 s"
        time.sleep(0.1)


def wait_until_checked(names: list[str], site: Site) -> None:
    """Until every entry has CHECKS checks (FULL_BAR for some), then the uptimes the prober
    refreshes every minute, refreshed now: before the browser, the ORM is ours until then."""
    deadline = time.monotonic() + PROBING_TIMEOUT
    while True:
        for process in site.processes:
            process.check_running()
        checked = dict(Dependency.objects.filter(name__in=names).values_list("name", "recent"))
        if len(checked) == len(names) and all(
            len(recent) >= FULL_BAR.get(name, CHECKS) for name, recent in checked.items()
        ):
            break
        assert time.monotonic() < deadline, {name: len(r) for name, r in checked.items()}
        time.sleep(0.5)
    assert rollups.refresh_uptimes() == len(names)


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_the_readme_screenshot_shows_the_example_declaration(
    site: Site,
    chromium: Chromium,
    account: None,
    start_process: StartProcess,
    tmp_path: Path,
) -> None:
    port = free_ports(3)
    declaration, names = demo_declaration(tmp_path, port)
    start_demo_peers(start_process, port, f"{site.url}/ping/{DEMO_ENV['DEMO_PING_TOKEN']}")
    site.start(declaration, **DEMO_ENV)
    wait_until_checked(names, site)

    page, traffic = chromium.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    log_in(page, site)
    rows = page.locator("#live table.dependencies tbody tr")
    expect(rows).to_have_count(len(names))
    for name in names:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") == WIDTH
    page.mouse.move(0, 0)  # no hover state in the picture
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "readme.png"
    page.screenshot(path=shot)  # the viewport: the top of the page, as a visitor first sees it
    print(f"screenshot: {shot}")
    assert png_size(shot) == (WIDTH, HEIGHT)
    traffic.assert_clean(site)

    if UPDATE:
        shutil.copyfile(shot, SCREENSHOT)
        print(f"updated {SCREENSHOT}")
