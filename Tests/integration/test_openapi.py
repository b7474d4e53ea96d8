"""OpenAPI 3.1 at run time (issue 18, point 1): `ferry openapi --config F` and `GET /openapi.json`
on the admin listener describe the REST rules of the descriptor set, valid per
openapi-spec-validator, with schemas that follow the proto3 JSON mapping."""
import json
import pathlib
import subprocess
import sys

from conftest import ferry_binary
from openapi_spec_validator import validate
from restclient import compile_descriptors, rest_section
from test_operations import admin

SERVICES = "[ferry.test.v1.RichService, node.v1.NodeService]"


def document(make_ferry, tmp_path):
    descriptors = compile_descriptors(tmp_path / "api.pb", "ferry/test/v1/rich_service.proto", "node/v1/node.proto",
                                      source_info=True)
    ferry = make_ferry(top_level=rest_section(descriptors, SERVICES))
    printed = subprocess.run([ferry_binary(), "openapi", "--config", str(ferry.config)], capture_output=True, text=True,
                             timeout=30)
    assert printed.returncode == 0, printed.stderr
    return ferry, printed.stdout


def test_the_document_is_valid_and_the_admin_listener_serves_the_same(make_ferry, tmp_path):
    ferry, printed = document(make_ferry, tmp_path)
    spec = json.loads(printed)
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    status, served = admin(ferry, "/openapi.json")
    assert status == 200 and json.loads(served) == spec


def test_every_binding_is_an_operation_with_its_parameters_and_bodies(make_ferry, tmp_path):
    spec = json.loads(document(make_ferry, tmp_path)[1])
    paths = spec["paths"]
    # Additional bindings, nested path variables with their literal segments, custom verbs.
    echo = paths["/v1/rich/{f_string}/nested/notes/{f_nested_note}"]["get"]
    names = {parameter["name"]: parameter for parameter in echo["parameters"]}
    assert names["f_nested_note"]["in"] == "path" and "notes/*" in names["f_nested_note"]["description"]
    assert names["f_nested_note"]["x-field-path"] == "f_nested.note"
    assert names["fNested.id"]["in"] == "query" and "fNested.note" not in names
    assert names["rString"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert names["mStringString"]["style"] == "deepObject"
    assert names["wTimestamp"]["schema"] == {"type": "string", "format": "date-time"}
    assert paths["/v1/rich/{f_int64}"]["patch"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ferry.test.v1.Nested"}
    assert "x-search" in paths["/v1/rich"]
    assert "/v1/files/{f_string}:echo" in paths
    assert [operation["operationId"] for path in paths.values() for operation in path.values()].count("RichService_Echo") == 1
    # HttpBody both ways, and server streams in the three forms.
    assert "*/*" in paths["/v1/body"]["put"]["requestBody"]["content"]
    watch = paths["/v1/nodes:watch"]["get"]["responses"]["200"]["content"]
    assert set(watch) == {"application/json", "application/x-ndjson", "text/event-stream"}
    assert watch["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/node.v1.NodeEvent"}
    # Errors are google.rpc.Status; the by-name addresses of `ferry call` are not API rules.
    assert echo["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/google.rpc.Status"}
    assert not any(path.startswith("/node.v1.") or path.startswith("/ferry.test.") for path in paths)


def test_proto_comments_become_descriptions(make_ferry, tmp_path):
    spec = json.loads(document(make_ferry, tmp_path)[1])
    echo = spec["paths"]["/v1/rich/{f_string}/nested/notes/{f_nested_note}"]["get"]
    assert echo["description"].startswith("Returns the request message as it arrived.")
    assert "partial update" in spec["paths"]["/v1/notes/{name}"]["patch"]["description"]


def test_schemas_follow_the_proto3_json_mapping(make_ferry, tmp_path):
    schemas = json.loads(document(make_ferry, tmp_path)[1])["components"]["schemas"]
    rich = schemas["ferry.test.v1.Rich"]["properties"]
    assert rich["fInt64"] == {"type": "string", "format": "int64"}
    assert rich["fInt32"] == {"type": "integer", "format": "int32"}
    assert rich["fBytes"] == {"type": "string", "format": "byte"}
    assert rich["fColor"] == {"$ref": "#/components/schemas/ferry.test.v1.Color"}
    assert schemas["ferry.test.v1.Color"]["enum"][:2] == ["COLOR_UNSPECIFIED", "COLOR_RED"]
    assert rich["wInt32"] == {"type": ["integer", "null"], "format": "int32"}
    assert rich["wDuration"]["type"] == "string" and rich["wFieldMask"] == {"type": "string"}
    assert rich["wAny"]["required"] == ["@type"]
    assert rich["wStruct"] == {"type": "object", "additionalProperties": True} and rich["wValue"] == {}
    assert rich["mStringString"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert schemas["node.v1.Node"]["properties"]["memoryBytes"]["type"] == "string"


def test_without_a_rest_section_there_is_no_document(make_ferry):
    ferry = make_ferry()
    assert admin(ferry, "/openapi.json")[0] == 404
    printed = subprocess.run([ferry_binary(), "openapi", "--config", str(ferry.config)], capture_output=True, text=True,
                             timeout=30)
    assert printed.returncode == 2 and "has no rest section" in printed.stderr


def test_schemathesis_finds_no_server_error(make_ferry, tmp_path):
    """schemathesis (PyPI) generates requests from the document, valid and invalid, against the
    gateway in front of the grpcio test backends: no answer may be a 5xx. Left out: Fail (its
    caller picks the status, 5xx included), WatchNodes and StreamBody (their callers pick the
    stream's length and pace: a stream of 2^31 messages outlasts any timeout). One worker: with two
    threads, CPython 3.11's ast.parse, which hypothesis calls to describe strategies, can fail
    ("AST constructor recursion depth mismatch")."""
    ferry, _ = document(make_ferry, tmp_path)
    result = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "schemathesis"), "run", f"{ferry.admin_url}/openapi.json",
         "--url", ferry.url, "--checks", "not_a_server_error", "--max-examples", "25", "--request-timeout", "10",
         "--phases", "examples,coverage,fuzzing", "--generation-deterministic", "--workers", "1",
         "--exclude-operation-id", "RichService_Fail", "--exclude-operation-id", "NodeService_WatchNodes",
         "--exclude-operation-id", "RichService_StreamBody"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache of past runs stays out of the tree
    assert result.returncode == 0, result.stdout[-6000:]
    print("\n" + "\n".join(line for line in result.stdout.splitlines() if "generated" in line or "Tested:" in line))
