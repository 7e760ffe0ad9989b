"""GET /playground: the page and its two files, served from memory with an ETag and a
same-origin CSP; nothing in them comes from elsewhere; no key needed, outside the OpenAPI
document. (The page in a browser: tests/playground/test_playground_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from app.api.routers.playground import ASSETS, STATIC_DIR
from app.api.settings import Settings
from tests.api.conftest import PROBLEM_JSON, ApiClient

FILES = {
    "/playground": "text/html; charset=utf-8",
    "/playground/playground.js": "text/javascript; charset=utf-8",
    "/playground/playground.css": "text/css; charset=utf-8",
}
KEY = "playground-test-key-0123456789"
# Where a page would load something from another origin: an attribute with an absolute or
# protocol-relative URL (data: is inline), a stylesheet's url() or @import, an absolute fetch.
EXTERNAL_ATTRIBUTE = re.compile(
    r"""\b(?:src|href|action)\s*=\s*["']?(?!data:)(?:[a-z][a-z0-9+.-]*:|//)""", re.IGNORECASE
)
EXTERNAL_CSS = re.compile(r"url\(|@import", re.IGNORECASE)
EXTERNAL_FETCH = re.compile(r"""fetch\(\s*["'`](?:[a-z]+:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def client() -> Iterator[ApiClient]:
    api = ApiClient(Settings())
    yield api
    api.close()


@pytest.fixture(scope="module")
def keyed() -> Iterator[ApiClient]:
    api = ApiClient(Settings(api_keys=(KEY,)))
    yield api
    api.close()


@pytest.mark.parametrize(("path", "media_type"), FILES.items())
def test_each_file_is_served_with_its_type_an_etag_and_no_cache(
    client: ApiClient, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    name = path.rsplit("/", 1)[-1] if path != "/playground" else "index.html"
    assert response.content == (STATIC_DIR / name).read_bytes()
    again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_the_page_has_a_same_origin_content_security_policy(client: ApiClient) -> None:
    csp = client.get("/playground").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe-inline" not in csp


def test_the_page_loads_its_files_by_relative_urls(client: ApiClient) -> None:
    html = client.get("/playground").text
    assert 'src="playground/playground.js"' in html
    assert 'href="playground/playground.css"' in html
    script = client.get("/playground/playground.js").text
    assert 'const ENDPOINT = "v1/diagnostics"' in script  # relative to the page


@pytest.mark.parametrize("name", ["index.html", *ASSETS])
def test_nothing_is_loaded_from_another_origin(name: str) -> None:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    assert not EXTERNAL_ATTRIBUTE.findall(text)
    assert not EXTERNAL_FETCH.findall(text)
    if name.endswith(".css"):
        assert not EXTERNAL_CSS.findall(text)
    for url in re.findall(r"https?://[^\s\"'`)]+", text):
        assert url == "http://www.w3.org/2000/svg", url  # an XML namespace, never fetched


def test_the_page_sends_the_key_as_the_service_reads_it() -> None:
    script = (STATIC_DIR / "playground.js").read_text(encoding="utf-8")
    assert 'result["X-API-Key"] = key' in script


def test_a_slash_redirects_to_the_page_relatively(client: ApiClient) -> None:
    response = client.get("/playground/")
    assert response.status_code == 308
    assert response.headers["location"] == "../playground"


@pytest.mark.parametrize("asset", ["nope.js", "index.html", "playground.JS"])
def test_any_other_file_is_a_404_problem_naming_the_files(client: ApiClient, asset: str) -> None:
    response = client.get(f"/playground/{asset}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "playground.css, playground.js" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/playground/..%2Fmain.py", "/playground/../main.py"])
def test_no_path_leaves_the_static_directory(client: ApiClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "create_app" not in response.text


def test_head_answers_like_get(client: ApiClient) -> None:
    response = client.request("HEAD", "/playground")
    assert response.status_code == 200
    assert response.headers["content-type"] == FILES["/playground"]


def test_not_in_the_openapi_document(client: ApiClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/playground") for path in paths)


def test_the_index_links_the_page(client: ApiClient) -> None:
    link = client.get("/").json()["links"]["playground"]
    assert client.get(link).status_code == 200


@pytest.mark.parametrize("path", FILES)
def test_with_keys_the_page_needs_none(keyed: ApiClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/", "/playgroundx", "/v1/schemes", "/playground-admin"])
def test_with_keys_everything_else_still_needs_one(keyed: ApiClient, path: str) -> None:
    assert keyed.get(path).status_code == 401
    assert keyed.get(path, headers={"X-API-Key": KEY}).status_code in (200, 404)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (EXTERNAL_ATTRIBUTE, '<script src="https://cdn.example/lib.js"></script>'),
        (EXTERNAL_ATTRIBUTE, "<link href='//fonts.example/css' rel=stylesheet>"),
        (EXTERNAL_CSS, "@font-face { src: url(font.woff2) }"),
        (EXTERNAL_FETCH, 'fetch("https://api.example/v1")'),
    ],
)
def test_the_origin_checks_catch_an_external_load(pattern: re.Pattern[str], text: str) -> None:
    assert pattern.findall(text)
