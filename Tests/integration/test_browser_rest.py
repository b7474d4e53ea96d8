"""A browser app on another origin calling the REST edge (issue 20, point 1), in headless Chromium
through Playwright: with the CORS preset, the methods the `rest` rules use (PUT, PATCH, DELETE and
a custom verb) pass their preflight with no method listed by hand; a listener that lists its
methods keeps exactly those."""
import http.server
import json
import threading

import pytest
from restclient import compile_descriptors, rest_section

pytest.importorskip("playwright.sync_api")
from browser import chromium_page  # noqa: E402 (after the skip when Playwright is missing)

SERVICES = "[ferry.test.v1.RichService]"
APP_PAGE = b"<!doctype html><title>app</title><p>a browser app on its own origin</p>"


class AppPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(APP_PAGE)))
        self.end_headers()
        self.wfile.write(APP_PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def app_page():
    """The app's origin: a page served from another port than Ferry's."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AppPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with chromium_page(f"http://127.0.0.1:{server.server_address[1]}/") as page:
        yield page
    server.shutdown()


def fetch(page, url, method, body=None):
    """[status, JSON text] of a cross-origin fetch, or ["refused", message] when the browser
    withholds the answer (a failed preflight)."""
    return page.evaluate("""async ([url, method, body]) => {
        const init = {method};
        if (body !== null) { init.body = body; init.headers = {'content-type': 'application/json'}; }
        try {
            const response = await fetch(url, init);
            return [response.status, await response.text()];
        } catch (error) {
            return ['refused', String(error)];
        }
    }""", [url, method, body])


@pytest.fixture
def descriptors(tmp_path):
    return compile_descriptors(tmp_path / "rich.pb", "ferry/test/v1/rich_service.proto")


def test_the_preset_lets_a_browser_use_every_method_of_the_rest_rules(make_ferry, descriptors, app_page):
    ferry = make_ferry(top_level=rest_section(descriptors, SERVICES))
    base = f"http://127.0.0.1:{ferry.port}"
    status, text = fetch(app_page, f"{base}/v1/notes/n7", "PATCH", '{"note": "from the browser"}')
    assert status == 200, text
    assert json.loads(text)["updateMask"] == "note"
    status, text = fetch(app_page, f"{base}/v1/rich/18446744073709551615", "DELETE")
    assert status == 200, text
    assert json.loads(text) == {"fUint64": "18446744073709551615"}
    status, text = fetch(app_page, f"{base}/v1/rich/from-path", "PUT", '{"fString": "x"}')
    assert status == 200, text
    assert json.loads(text)["fString"] == "from-path"
    status, text = fetch(app_page, f"{base}/v1/rich?f_string=found", "SEARCH")
    assert status == 200, text
    assert json.loads(text)["fString"] == "found"


def test_methods_listed_by_hand_are_the_only_ones_allowed(make_ferry, descriptors, app_page):
    ferry = make_ferry(top_level=rest_section(descriptors, SERVICES),
                       extra_listener="    cors: { allow_methods: [GET, POST] }\n")
    base = f"http://127.0.0.1:{ferry.port}"
    assert fetch(app_page, f"{base}/v1/notes/n7", "PATCH", '{"note": "x"}')[0] == "refused"
    status, text = fetch(app_page, f"{base}/v1/rich/a/nested/notes/b", "GET")
    assert status == 200, text
    assert json.loads(text)["fString"] == "a"
