"""The operator pages in a real headless Chromium (issue 22), against a real ``kumahc serve`` process and, where
sync state matters, a real Envoy: the overview shows the proxy in sync; an edit Envoy NACKs turns it red with
Envoy's message on the proxies page and the proxy page while they stay open (no reload); the policy page lists the
proxies it shapes; a hostile node id is text; without the token the pages send the browser to the login form; a
rebinding Host gets 403."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from bootstraps import xds_bootstrap
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import discovery_pb2
from harness import Envoy
from kumahc_serve import atomic_write, serve
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from uibrowser import WAIT, make_driver

from kumahc.xds.snapshot import CLUSTER_TYPE

MESH = """\
type: Dataplane
name: web-01
labels: {app: web}
networking:
  address: 127.0.0.1
  inbound: [{port: 1, tags: {kuma.io/service: web, kuma.io/protocol: http}}]
---
type: Dataplane
name: http-a
networking:
  address: 127.0.0.1
  inbound: [{port: 10001, tags: {kuma.io/service: http-svc, kuma.io/protocol: http}}]
"""


def policy(extra: str = "") -> str:
    return f"""\
type: MeshHealthCheck
name: web-checks
spec:
  targetRef: {{kind: Dataplane, labels: {{app: web}}}}
  to:
  - targetRef: {{kind: MeshService, name: http-svc}}
    default: {{interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, http: {{path: /health}}{extra}}}
"""


# A cluster Envoy rejects: its health-check event log is in a directory that does not exist.
REJECTED = ", eventLogPath: /nonexistent-kumahc/hc.log"
MARKER = "window.__kumahcLoaded = 'kept'"  # set once; a page reload would drop it


@pytest.fixture
def mesh(tmp_path: Path) -> Path:
    d = tmp_path / "mesh"
    d.mkdir()
    (d / "mesh.yaml").write_text(MESH)
    (d / "policy.yaml").write_text(policy())
    return d


def wait_for(driver: object, condition: Callable[[object], object], what: str) -> object:
    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition, what)


def text_of(driver: object, css: str) -> str:
    """The rendered text of the first element matching ``css`` ("" when none), read in one script call: the live
    update swaps the page's content, so an element found in one call may be gone by the next."""
    return driver.execute_script(  # type: ignore[attr-defined]
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css)


def count(driver: object, css: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length;", css)  # type: ignore


def test_overview_in_sync_then_a_nack_shows_live(mesh: Path, envoy_binary: str, browser: object,
                                                 browser_paths: tuple[str, str], screenshot: Callable) -> None:
    with serve(str(mesh)) as s, Envoy(xds_bootstrap("ads", "default.web-01", s.xds_port)):
        base = f"http://{s.admin}"
        browser.get(base + "/")
        assert browser.current_url == base + "/ui/"
        wait_for(browser, lambda d: text_of(d, "#count-in-sync") == "1", "one proxy in sync on the overview")
        assert text_of(browser, "#count-nacking") == "0"
        assert text_of(browser, "#count-never") == "1"  # http-a has no Envoy
        assert text_of(browser, "#meshes") == "default"
        screenshot(browser, "overview")

        browser.get(base + "/ui/proxies")
        row = text_of(browser, "tr.state-in-sync")
        assert "default.web-01" in row and "SotW ADS" in row and "envoy 1.40.0" in row
        browser.execute_script(MARKER)
        proxy = make_driver(browser_paths)  # a second browser: the proxy page stays open beside the proxies page
        try:
            proxy.get(base + "/ui/proxies/default.web-01")
            proxy.execute_script(MARKER)
            assert text_of(proxy, "#state") == "in sync"
            # Open the first cluster's JSON and origins: they must stay open across updates.
            proxy.execute_script("for (const id of ['json-1', 'origin-1']) document.getElementById(id).open = true;")
            screenshot(proxy, "proxy")

            # The edit Envoy NACKs: both open pages turn red with Envoy's error_detail, without a reload.
            mark = len(s.stderr())
            atomic_write(str(mesh / "policy.yaml"), policy(REJECTED))
            s.wait_log("WARNING NACK node=default.web-01", after=mark)
            wait_for(browser, lambda d: "/nonexistent-kumahc/hc.log" in text_of(d, "tr.state-nacking td.nack"),
                     "the proxy row turning red with Envoy's message")
            assert browser.execute_script("return window.__kumahcLoaded") == "kept"
            screenshot(browser, "proxies-nack")
            wait_for(proxy, lambda d: "/nonexistent-kumahc/hc.log" in text_of(d, "#nack"),
                     "the NACK on the proxy page")
            assert text_of(proxy, "#state") == "nacking"
            assert proxy.execute_script("return window.__kumahcLoaded") == "kept"
            assert "/nonexistent-kumahc/hc.log" in text_of(proxy, "#history tr.event-nack")
            assert proxy.execute_script("return document.getElementById('json-1').open") is True
            screenshot(proxy, "proxy-nack")

            # The fix is ACKed: back in sync, the last NACK still shown.
            atomic_write(str(mesh / "policy.yaml"), policy())
            wait_for(browser, lambda d: count(d, "tr.state-in-sync") == 1, "back in sync")
            assert "/nonexistent-kumahc/hc.log" in text_of(browser, "tr.state-in-sync td.nack")
            assert browser.execute_script("return window.__kumahcLoaded") == "kept"
        finally:
            proxy.quit()


def test_policy_page_lists_its_proxies(mesh: Path, browser: object, screenshot: Callable) -> None:
    with serve(str(mesh)) as s:
        browser.get(f"http://{s.admin}/ui/policies")
        link = browser.find_element(By.LINK_TEXT, "web-checks")
        row = link.find_element(By.XPATH, "./ancestor::tr")
        assert row.text.startswith("MeshHealthCheck web-checks default ")
        assert f"{mesh / 'policy.yaml'}:1" in row.text
        assert row.find_element(By.CSS_SELECTOR, "td.reach").text == (
            "contributes to 1 cluster on 1 proxy; selects 0 more without contributing")
        screenshot(browser, "policies")
        link.click()
        wait_for(browser, lambda d: d.current_url == f"http://{s.admin}/ui/policies/MeshHealthCheck/web-checks",
                 "the policy page")
        assert text_of(browser, "#summary") == ("contributes to 1 cluster on 1 proxy; selects 0 more without "
                                                "contributing")
        proxies = browser.find_elements(By.CSS_SELECTOR, "#reach a.proxy")
        assert [a.text for a in proxies] == ["default/web-01"]
        screenshot(browser, "policy")
        proxies[0].click()
        wait_for(browser, lambda d: d.current_url == f"http://{s.admin}/ui/proxies/default.web-01", "the proxy page")
        assert text_of(browser, "#clusters tbody tr td") == "http-svc"


@contextlib.contextmanager
def raw_client(target: str, node: str) -> Iterator[None]:
    """A SotW CDS stream under ``node`` that ACKs the first response and stays open until the block ends."""
    done = threading.Event()
    acked: queue.Queue = queue.Queue()

    def run() -> None:
        with grpc.insecure_channel(target) as channel:
            outgoing: queue.Queue = queue.Queue()
            outgoing.put(discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, node={"id": node}))

            def requests() -> Iterator[discovery_pb2.DiscoveryRequest]:
                while not done.is_set():
                    with contextlib.suppress(queue.Empty):
                        yield outgoing.get(timeout=0.1)

            call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(requests())
            with contextlib.suppress(grpc.RpcError):
                for response in call:
                    outgoing.put(discovery_pb2.DiscoveryRequest(
                        type_url=CLUSTER_TYPE, node={"id": node}, version_info=response.version_info,
                        response_nonce=response.nonce))
                    acked.put(True)
                    done.wait(WAIT * 4)
                    call.cancel()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        acked.get(timeout=WAIT)
        yield
    finally:
        done.set()
        thread.join(WAIT)


HOSTILE = '<script>window.__owned = 1</script><img src=x onerror="window.__owned = 2">'


def test_a_hostile_node_id_is_text(mesh: Path, browser: object, screenshot: Callable) -> None:
    with serve(str(mesh)) as s, raw_client(s.xds, HOSTILE):
        browser.get(f"http://{s.admin}/ui/proxies?state=unknown")
        link = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a.node"), "the hostile node's row")[0]
        assert link.text == HOSTILE
        time.sleep(1.5)  # one live update swaps the content in: it must stay text too
        assert browser.find_element(By.CSS_SELECTOR, "a.node").text == HOSTILE
        assert browser.execute_script("return window.__owned === undefined") is True
        assert browser.find_elements(By.CSS_SELECTOR, "main script, main img") == []
        screenshot(browser, "hostile")
        link.click()
        wait_for(browser, lambda d: text_of(d, "h1 .node") == HOSTILE, "the hostile node's page")
        assert browser.execute_script("return window.__owned === undefined") is True


def test_the_token_sends_the_browser_to_the_login_form(mesh: Path, tmp_path: Path, browser: object,
                                                       screenshot: Callable) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    with serve(str(mesh), args=("--admin-token-file", str(token))) as s:
        base = f"http://{s.admin}"
        for page in ("/ui/", "/ui/proxies", "/ui/proxies/default.web-01", "/ui/policies",
                     "/ui/policies/MeshHealthCheck/web-checks"):
            browser.get(base + page)
            assert browser.current_url == base + "/ui/login", page
        assert browser.find_elements(By.CSS_SELECTOR, "main table") == []
        screenshot(browser, "login")
        browser.find_element(By.ID, "token").send_keys("wrong")
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait_for(browser, lambda d: text_of(d, "#failed") == "wrong token", "the wrong token refused")
        assert browser.get_cookies() == []
        browser.find_element(By.ID, "token").send_keys("s3cret-token")
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait_for(browser, lambda d: d.current_url == base + "/ui/", "the overview after signing in")
        assert "s3cret-token" not in browser.current_url
        (cookie,) = browser.get_cookies()
        assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
            "kumahc_ui", True, "Strict", "/ui/")
        assert "s3cret-token" not in cookie["value"]
        assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script reads it
        browser.get(base + "/ui/proxies")
        assert browser.current_url == base + "/ui/proxies"
        # A new token ends the session.
        atomic_write(str(token), "another-token\n")
        browser.get(base + "/ui/policies")
        assert browser.current_url == base + "/ui/login"


def test_a_rebinding_host_gets_403(mesh: Path, browser_paths: tuple[str, str], screenshot: Callable) -> None:
    with serve(str(mesh)) as s:
        port = s.admin.rsplit(":", 1)[1]
        # The browser resolves an attacker's name to 127.0.0.1 (DNS rebinding) and sends that name as Host.
        rebound = make_driver(browser_paths, "--host-resolver-rules=MAP rebind.example 127.0.0.1")
        try:
            for page in ("/ui/", "/ui/proxies", "/ui/login"):
                rebound.get(f"http://rebind.example:{port}{page}")
                assert rebound.find_element(By.TAG_NAME, "body").text == (
                    f'forbidden: Host "rebind.example:{port}" is not one of 127.0.0.1, localhost '
                    "(add names with --admin-allowed-host)"), page
            screenshot(rebound, "rebinding-403")
        finally:
            rebound.quit()


def test_a_failed_reload_shows_live_on_the_overview(mesh: Path, browser: object, screenshot: Callable) -> None:
    with serve(str(mesh)) as s:
        browser.get(f"http://{s.admin}/ui/")
        assert text_of(browser, "#reload").startswith("served ")
        browser.execute_script(MARKER)
        atomic_write(str(mesh / "policy.yaml"), policy().replace("path: /health", 'path: ""'))
        wait_for(browser, lambda d: "failed" in text_of(d, "#reload"), "the failed reload on the overview")
        lines = text_of(browser, "#reload ul.lines li.bad")  # an error, in red
        assert f"{mesh / 'policy.yaml'}:7: MeshHealthCheck web-checks: spec.to[0].default.http.path: " in lines
        assert browser.execute_script("return window.__kumahcLoaded") == "kept"
        screenshot(browser, "overview-reload-failed")
        atomic_write(str(mesh / "policy.yaml"), policy())
        wait_for(browser, lambda d: text_of(d, "#reload").startswith("served "), "the next reload served")
        assert browser.execute_script("return window.__kumahcLoaded") == "kept"
