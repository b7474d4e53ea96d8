"""The console page on the admin listener (issue 18, point 2), driven in headless Chromium
(Debian's chromium through Playwright from PyPI): a unary call, a server stream shown message by
message as it arrives, and an error status, each through the gateway to the grpcio backend."""
import re

import pytest
from restclient import compile_descriptors, rest_section
from test_operations import admin_exchange

playwright = pytest.importorskip("playwright.sync_api")
from browser import chromium_page  # noqa: E402 (after the skip when Playwright is missing)


@pytest.fixture
def console(make_ferry, tmp_path):
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    ferry = make_ferry(top_level=rest_section(descriptors), extra_listener="    cors: { allow_origins: ['*'], allow_headers: [content-type, connect-protocol-version, x-echo] }\n")
    with chromium_page(f"{ferry.admin_url}/console") as page:
        yield page


def choose(page, label):
    option = page.locator("[data-testid=method-select] option", has_text=label)
    page.select_option("[data-testid=method-select]", value=option.get_attribute("value"))


def test_the_page_is_self_contained_and_lists_every_method(make_ferry, tmp_path):
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    ferry = make_ferry(top_level=rest_section(descriptors))
    status, headers, body = admin_exchange(ferry, "/console")
    headers = {name.lower(): value for name, value in headers.items()}
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert not re.search(r"""(src|href)=["']?https?:""", body)
    for method in ("NodeService/GetNode", "NodeService/WatchNodes", "NodeService/StreamMetrics"):
        assert method in body


def test_a_unary_call_shows_the_reply_status_and_curl_line(console, recorder):
    choose(console, "NodeService/GetNode")
    assert '"nodeId": ""' in console.input_value("[data-testid=request-editor]")
    console.fill("[data-testid=request-editor]", '{"nodeId": "web-1"}')
    console.fill("[data-testid=metadata-editor]", "x-echo: from-console")
    console.click("[data-testid=call-button]")
    playwright.expect(console.locator("[data-testid=response-status]")).to_contain_text("OK")
    assert '"name": "node-web-1"' in console.text_content("[data-testid=response-output]")
    assert "connect-protocol-version: 1" in console.text_content("[data-testid=curl-line]")
    assert recorder.metadata[-1]["x-echo"] == "from-console"


def test_a_server_stream_shows_messages_as_they_arrive(console):
    choose(console, "NodeService/WatchNodes")
    console.fill("[data-testid=request-editor]", '{"count": 3, "intervalMs": 600}')
    console.click("[data-testid=call-button]")
    output = console.locator("[data-testid=response-output]")
    playwright.expect(output).to_contain_text("message 1")
    # The first message is on the page while the stream still runs.
    assert "message 3" not in output.text_content()
    assert "streaming" in console.text_content("[data-testid=response-status]")
    playwright.expect(console.locator("[data-testid=response-status]")).to_contain_text("OK · 3 message(s)", timeout=10_000)


def test_an_error_status_is_shown(console):
    choose(console, "NodeService/GetNode")
    console.fill("[data-testid=request-editor]", '{"nodeId": "missing-7"}')
    console.click("[data-testid=call-button]")
    status = console.locator("[data-testid=response-status]")
    playwright.expect(status).to_contain_text("not_found")
    playwright.expect(status).to_contain_text("HTTP 404")
    assert "node 'missing-7' not found" in console.text_content("[data-testid=response-output]")
