"""Every kind of google.api.http rule, through Ferry to a grpcio backend that echoes what arrived
(Protos/ferry/test/v1/rich_service.proto, Tests/integration/rich_backend.py): path variables of
every shape, query parameters, body "*" and body "field", response_body, additional_bindings, a
custom verb, google.api.HttpBody both ways, error details, trailer metadata, the header allowlist
and the default deadline, and `ferry call`."""
import base64
import hashlib
import json
import subprocess

import pytest
from conftest import FerryProcess, ferry_binary
from restclient import compile_descriptors, exchange, request, rest_section

SERVICES = "[ferry.test.v1.RichService]"


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory):
    return compile_descriptors(tmp_path_factory.mktemp("descriptors") / "rich.pb", "ferry/test/v1/rich_service.proto")


@pytest.fixture(scope="module")
def rich_ferry(tmp_path_factory, backend, descriptors):
    process = FerryProcess(tmp_path_factory.mktemp("rich"), backend.port, top_level=rest_section(descriptors, SERVICES))
    yield process
    assert process.stop() == 0


def test_get_binds_a_variable_and_a_nested_segment_pattern_and_the_query(rich_ferry, recorder):
    status, _, body = request(rich_ferry, "GET", "/v1/rich/caf%C3%A9/nested/notes/n%201"
                              "?f_int32=-5&r_string=a&r_string=b&m_string_string%5Bk%5D=v&f_color=COLOR_BLUE"
                              "&f_nested.id=3&w_int32=7&f_bytes=AAE-_w&w_timestamp=2026-11-27T10:00:00Z")
    assert status == 200, body
    assert body["fString"] == "café"
    assert body["fNested"] == {"id": 3, "note": "notes/n 1"}
    assert body["fInt32"] == -5 and body["rString"] == ["a", "b"] and body["mStringString"] == {"k": "v"}
    assert body["fColor"] == "COLOR_BLUE" and body["wInt32"] == 7 and body["fBytes"] == "AAE+/w=="
    assert body["wTimestamp"] == "2026-11-27T10:00:00Z"
    assert recorder.calls == ["Echo"]


def test_put_with_the_whole_body_lets_the_path_win(rich_ferry):
    status, _, body = request(rich_ferry, "PUT", "/v1/rich/from-path", {"fString": "from-body", "fDouble": "NaN"})
    assert status == 200, body
    assert body["fString"] == "from-path" and body["fDouble"] == "NaN"


def test_patch_fills_the_update_mask_from_the_body_as_grpc_gateway_does(rich_ferry, recorder):
    status, _, body = request(rich_ferry, "PATCH", "/v1/notes/n7", {"note": "new", "child": {"id": 2, "note": "c"}})
    assert status == 200, body
    assert body["name"] == "n7" and body["note"] == {"note": "new", "child": {"id": 2, "note": "c"}}
    assert body["updateMask"] == "child.id,child.note,note"
    # A mask the client sets is its own.
    status, _, body = request(rich_ferry, "PATCH", "/v1/notes/n7?updateMask=note", {"note": "x", "id": 4})
    assert status == 200 and body["updateMask"] == "note"
    status, _, body = request(rich_ferry, "PATCH", "/v1/notes/n7", {})
    assert status == 200 and "updateMask" not in body
    assert recorder.calls == ["UpdateNote"] * 3


def test_patch_with_a_body_field_and_the_query(rich_ferry):
    status, _, body = request(rich_ferry, "PATCH", "/v1/rich/-42?f_bool=true", {"id": 9, "note": "n"})
    assert status == 200, body
    assert body == {"fInt64": "-42", "fBool": True, "fNested": {"id": 9, "note": "n"}}


def test_delete_without_body(rich_ferry):
    status, _, body = request(rich_ferry, "DELETE", "/v1/rich/18446744073709551615")
    assert status == 200, body
    assert body == {"fUint64": "18446744073709551615"}


def test_multi_segment_variable_keeps_reserved_characters_before_a_verb(rich_ferry):
    status, _, body = request(rich_ferry, "POST", "/v1/files/a/b%2Fc/d%20e.txt:echo", {"fInt32": 1})
    assert status == 200, body
    assert body["fString"] == "a/b%2Fc/d e.txt" and body["fInt32"] == 1


def test_custom_verb(rich_ferry):
    status, _, body = request(rich_ferry, "SEARCH", "/v1/rich?f_string=found&o_int32=0")
    assert status == 200, body
    assert body == {"fString": "found", "oInt32": 0}


def test_response_body_answers_with_one_field(rich_ferry):
    status, _, body = request(rich_ferry, "POST", "/v1/rich:nested", {"fString": "x", "fNested": {"id": 1, "colors": [1, "COLOR_GREEN"]}})
    assert status == 200, body
    assert body == {"id": 1, "colors": ["COLOR_RED", "COLOR_GREEN"]}


def test_every_method_is_also_reached_by_its_grpc_name(rich_ferry):
    status, _, body = request(rich_ferry, "POST", "/ferry.test.v1.RichService/Echo", {"customName": "j"})
    assert status == 200, body
    assert body == {"customName": "j"}


def test_errors_carry_details_and_trailer_metadata(rich_ferry):
    status, headers, body = request(rich_ferry, "POST", "/v1/rich:fail", {"fInt32": 9, "fString": "not now"})
    assert status == 400
    assert body == {"code": 9, "message": "not now", "details": [
        {"@type": "type.googleapis.com/ferry.test.v1.Nested", "id": 7, "note": "why"},
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "value": base64.b64encode(b"\x0a\x03bad").decode()},
    ]}
    assert headers["x-grpc-trailer-x-trace"] == "abc"
    assert not any(name.startswith("grpc-") or "status-details" in name for name in headers)
    status, _, body = request(rich_ferry, "POST", "/v1/rich:fail", {"fInt32": 14, "fString": "gone"})
    assert (status, body["code"], body["message"]) == (503, 14, "gone")


def test_unary_trailer_metadata_becomes_headers(rich_ferry):
    status, headers, _ = request(rich_ferry, "PUT", "/v1/rich/t", {})
    assert status == 200 and headers["x-grpc-trailer-x-echo-trailer"] == "done"


def test_http_body_reply_passes_through(rich_ferry):
    status, headers, body = request(rich_ferry, "GET", "/v1/blobs/a/b.txt")
    assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"
    assert body == "blob a/b.txt"


def test_http_body_request_field_beside_a_path_variable(rich_ferry):
    data = bytes(range(256)) * 300
    status, _, body = request(rich_ferry, "POST", "/v1/blobs/up/x.bin", data, headers={"content-type": "application/octet-stream"})
    assert status == 200, body
    assert body == {"name": "up/x.bin", "contentType": "application/octet-stream", "size": str(len(data)),
                    "sha256": hashlib.sha256(data).hexdigest()}


def test_http_body_both_ways_keeps_the_content_type(rich_ferry):
    data = b"\x89PNG\r\n\x1a\n" + bytes(1000)
    status, headers, body = request(rich_ferry, "PUT", "/v1/body", data, headers={"content-type": "image/png"})
    assert status == 200 and headers["content-type"] == "image/png" and body == data


def test_streamed_http_body_and_chunked_trailer_fields(rich_ferry):
    status, headers, body = request(rich_ferry, "GET", "/v1/blobs:stream?count=3")
    assert status == 200 and headers["content-type"] == "text/plain"
    assert body == "piece 0\npiece 1\npiece 2\n"
    assert headers["x-grpc-trailer-x-pieces"] == "3"


def test_streamed_http_body_that_fails_ends_without_the_last_chunk(rich_ferry):
    raw = exchange(rich_ferry, "GET", "/v1/blobs:stream?count=3&name=fail")
    assert raw.startswith(b"HTTP/1.1 200") and b"piece 0\n" in raw
    assert not raw.endswith(b"0\r\n\r\n"), "a broken HttpBody stream must not look complete"


def test_header_allowlist_and_default_timeout(tmp_path, backend, descriptors):
    ferry = FerryProcess(tmp_path, backend.port, top_level=rest_section(
        descriptors, SERVICES, "  request_headers: [X-Allowed, authorization]\n  default_timeout: 7s\n"))
    try:
        status, headers, _ = request(ferry, "PUT", "/v1/rich/h", {}, headers={"x-allowed": "1", "x-other": "2", "authorization": "Bearer t"})
        assert status == 200
        seen = headers["x-grpc-metadata-x-seen-metadata"].split(",")
        assert "x-allowed" in seen and "authorization" in seen and "x-other" not in seen
        assert 5.0 < float(headers["x-grpc-metadata-x-time-remaining"]) <= 7.0
        status, headers, _ = request(ferry, "PUT", "/v1/rich/h", {}, headers={"grpc-timeout": "2S"})
        assert status == 200 and float(headers["x-grpc-metadata-x-time-remaining"]) <= 2.0
        status, _, body = request(ferry, "PUT", "/v1/rich/h", {}, headers={"grpc-timeout": "soon"})
        assert (status, body["code"]) == (400, 3) and "grpc-timeout" in body["message"]
    finally:
        assert ferry.stop() == 0


def test_without_an_allowlist_every_end_to_end_header_goes(rich_ferry):
    status, headers, _ = request(rich_ferry, "PUT", "/v1/rich/h", {}, headers={"x-other": "2"})
    assert status == 200
    seen = headers["x-grpc-metadata-x-seen-metadata"].split(",")
    assert "x-other" in seen and "connection" not in seen and "x-time-remaining" not in headers


def test_ferry_call(rich_ferry):
    address = f"127.0.0.1:{rich_ferry.port}"
    result = subprocess.run([ferry_binary(), "call", address, "ferry.test.v1.RichService/Echo", '{"fInt64": 5}'],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"fInt64": "5"} and "\n  " in result.stdout
    result = subprocess.run([ferry_binary(), "call", address, "ferry.test.v1.RichService/Fail",
                             '{"fInt32": 5, "fString": "nope"}', "--compact"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1 and result.stdout == ""
    assert json.loads(result.stderr)["message"] == "nope"
    result = subprocess.run([ferry_binary(), "call", address, "ferry.test.v1.RichService/StreamBody", '{"count": 2}'],
                            capture_output=True, text=True, timeout=10)
    assert (result.returncode, result.stdout) == (0, "piece 0\npiece 1\n")
    result = subprocess.run([ferry_binary(), "call", address, "ferry.test.v1.RichService/Echo", "{", "-H", "x-a: 1"],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1 and "invalid JSON" in result.stderr
    result = subprocess.run([ferry_binary(), "call", address, "Echo"], capture_output=True, text=True, timeout=10)
    assert result.returncode != 0 and "package.Service/Method" in result.stderr


@pytest.mark.parametrize("field, value", [
    ("fNested", '{"child":' * 150 + "{}" + "}" * 150),
    ("wValue", "[" * 150 + "]" * 150),
    ("wStruct", '{"a":' * 150 + "1" + "}" * 150),
])
def test_json_nested_deeper_than_100_levels_is_400(rich_ferry, recorder, field, value):
    status, _, body = request(rich_ferry, "PUT", "/v1/rich/x", f'{{"{field}": {value}}}'.encode())
    assert (status, body["code"]) == (400, 3), body
    assert "nested deeper than 100 levels" in body["message"]
    assert recorder.calls == []


def test_json_print_options_shape_every_answer(tmp_path_factory, backend, descriptors, rich_ferry):
    """The rest section's JSON options (issue 20, point 5), as protojson's and grpc-gateway's:
    emit_unpopulated, use_proto_names, enums_as_ints; ignore_unknown_fields on the way in."""
    options = "  emit_unpopulated: true\n  use_proto_names: true\n  enums_as_ints: true\n  ignore_unknown_fields: true\n"
    process = FerryProcess(tmp_path_factory.mktemp("options"), backend.port,
                           top_level=rest_section(descriptors, SERVICES, extra=options))
    try:
        status, _, body = request(process, "PUT", "/v1/rich/p", {"fColor": "COLOR_GREEN", "noSuchField": 1, "customName": "j"})
        assert status == 200, body
        assert body["f_string"] == "p" and body["f_color"] == 2 and body["json_named"] == "j"
        # Unpopulated fields are printed with their defaults; unset optionals are not.
        assert body["f_int32"] == 0 and body["r_color"] == [] and body["m_bool_color"] == {}
        assert "o_int32" not in body
        # Without ignore_unknown_fields, the unknown field is refused (the module's rich_ferry).
        status, _, error = request(rich_ferry, "PUT", "/v1/rich/p", {"noSuchField": 1})
        assert status == 400 and "noSuchField" in error["message"], error
    finally:
        assert process.stop() == 0
