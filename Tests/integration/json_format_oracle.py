"""Random ferry.test.v1.Rich messages with Python protobuf's json_format output: the reference
the transcoder's differential test (Tests/TranscodeTests/JSONFormatDifferentialTests.swift)
compares against.

Usage: json_format_oracle.py SEED COUNT
Prints one JSON line per message and print-option set:
  {"binary": base64, "json": json_format text, "options": [emitUnpopulated, useProtoNames, enumsAsIntegers]}
"""
import base64
import json
import pathlib
import random
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent / "generated"))

from google.protobuf import descriptor, json_format  # noqa: E402
from google.protobuf import duration_pb2, empty_pb2, timestamp_pb2  # noqa: E402

from ferry.test.v1 import rich_pb2  # noqa: E402

FD = descriptor.FieldDescriptor
TEXT = ["", "a", "node-1", "é", "日本", "😀", "line\nbreak", "quote\"", "back\\slash", "\u0001ctl", "tab\t", " "]
# No float32 denormals: json_format prints them with 6 significant digits (1.4013e-45), Ferry
# with the shortest digits that read back to the same float (1e-45); both are the same float,
# but not the same double, which is how this test compares (see ProtoJSONTranscoderTests).
FLOATS = [0.0, -0.0, 1.0, -1.5, 0.1, 1.17549435e-38, 3.4028234663852886e38, float("inf"), float("-inf"), float("nan")]
DOUBLES = [0.0, -0.0, 1.0, 0.1, -2.5e-300, 1.7976931348623157e308, 5e-324, float("inf"), float("nan"), 123456789.125]
INTS = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1), FD.TYPE_SINT32: (-(2**31), 2**31 - 1), FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1), FD.TYPE_SINT64: (-(2**63), 2**63 - 1), FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
}


def scalar(r, field):
    kind = field.type
    if kind in INTS:
        low, high = INTS[kind]
        return r.choice([low, high, 0, 1, -1 if low < 0 else 2, r.randint(low, high)])
    if kind == FD.TYPE_DOUBLE:
        return r.choice(DOUBLES + [r.uniform(-1e6, 1e6)])
    if kind == FD.TYPE_FLOAT:
        value = r.choice(FLOATS + [r.uniform(-1e6, 1e6)])
        return struct.unpack("<f", struct.pack("<f", value))[0]
    if kind == FD.TYPE_BOOL:
        return r.random() < 0.5
    if kind == FD.TYPE_STRING:
        return "".join(r.choice(TEXT) for _ in range(r.randint(0, 3)))
    if kind == FD.TYPE_BYTES:
        return bytes(r.randrange(256) for _ in range(r.randint(0, 12)))
    if kind == FD.TYPE_ENUM:
        values = [v.number for v in field.enum_type.values]
        return r.choice(values + ([7] if field.enum_type.full_name != "google.protobuf.NullValue" else []))
    raise ValueError(field.full_name)


def json_value(r, depth):
    kinds = ["null", "number", "string", "bool"] + (["struct", "list"] if depth < 2 else [])
    kind = r.choice(kinds)
    if kind == "null":
        return None
    if kind == "number":
        return r.choice([0.0, 1.0, -2.5, 1e300, r.uniform(-1e9, 1e9)])
    if kind == "string":
        return r.choice(TEXT)
    if kind == "bool":
        return r.random() < 0.5
    if kind == "struct":
        return {r.choice(TEXT) + str(i): json_value(r, depth + 1) for i in range(r.randint(0, 3))}
    return [json_value(r, depth + 1) for _ in range(r.randint(0, 3))]


def fill_well_known(r, message, depth):
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        message.seconds = r.choice([-62135596800, 253402300799, 0, r.randint(-62135596800, 253402300799)])
        message.nanos = r.choice([0, 1000000, 1000, 1, r.randint(0, 999999999)])
    elif name == "google.protobuf.Duration":
        seconds = r.choice([0, 1, 315576000000, r.randint(0, 315576000000)])
        nanos = r.choice([0, 500000000, 1000, 7, r.randint(0, 999999999)])
        sign = -1 if r.random() < 0.5 else 1
        message.seconds, message.nanos = sign * seconds, sign * nanos
    elif name.endswith("Value") and name not in ("google.protobuf.Value", "google.protobuf.ListValue"):
        message.value = scalar(r, message.DESCRIPTOR.fields_by_name["value"])
    elif name == "google.protobuf.Struct":
        message.update({f"k{i}{r.choice(TEXT)}": json_value(r, 1) for i in range(r.randint(0, 3))})
    elif name == "google.protobuf.Value":
        value = json_value(r, 0)
        if value is None:
            message.null_value = 0
        elif isinstance(value, bool):
            message.bool_value = value
        elif isinstance(value, float):
            message.number_value = value
        elif isinstance(value, str):
            message.string_value = value
        elif isinstance(value, dict):
            message.struct_value.update(value)
        else:
            message.list_value.extend(value)
    elif name == "google.protobuf.ListValue":
        message.extend([json_value(r, 1) for _ in range(r.randint(0, 3))])
    elif name == "google.protobuf.FieldMask":
        message.paths.extend(r.choice(["a", "foo_bar", "foo_bar.baz_qux", "x.y"]) for _ in range(r.randint(0, 3)))
    elif name == "google.protobuf.Any":
        inner = r.choice(["nested", "defaults", "empty", "timestamp", "duration"])
        if inner == "nested":
            packed = rich_pb2.Nested()
            fill(r, packed, depth + 1)
        elif inner == "defaults":
            # A message whose fields all hold their defaults: an Any of just "@type".
            packed = rich_pb2.Nested()
        elif inner == "empty":
            # Empty is inlined like any message, not put under "value" (json_format, protojson).
            packed = empty_pb2.Empty()
        elif inner == "timestamp":
            packed = timestamp_pb2.Timestamp()
            fill_well_known(r, packed, depth)
        else:
            packed = duration_pb2.Duration()
            fill_well_known(r, packed, depth)
        message.Pack(packed)
    elif name == "google.protobuf.Empty":
        message.SetInParent()
    else:
        return False
    return True


def fill(r, message, depth=0):
    for field in message.DESCRIPTOR.fields:
        if r.random() < 0.45:
            continue
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for _ in range(r.randint(0, 3)):
                key = scalar(r, key_field)
                if value_field.message_type is not None:
                    entry = value[key]
                    fill_message(r, entry, depth + 1)
                else:
                    value[key] = scalar(r, value_field)
        elif field.is_repeated:
            for _ in range(r.randint(0, 3)):
                if field.message_type is not None:
                    fill_message(r, value.add(), depth + 1)
                else:
                    value.append(scalar(r, field))
        elif field.message_type is not None:
            if depth < 3:
                fill_message(r, value, depth + 1)
        else:
            setattr(message, field.name, scalar(r, field))


def fill_message(r, message, depth):
    if not fill_well_known(r, message, depth):
        fill(r, message, depth)
        message.SetInParent()


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    r = random.Random(seed)
    for _ in range(count):
        message = rich_pb2.Rich()
        fill(r, message)
        binary = base64.b64encode(message.SerializeToString()).decode()
        variants = [(False, False, False)]
        if r.random() < 0.3:
            variants.append((r.random() < 0.5, r.random() < 0.5, r.random() < 0.5))
        for emit, proto_names, enum_ints in variants:
            text = json_format.MessageToJson(message, indent=None, always_print_fields_with_no_presence=emit,
                                             preserving_proto_field_name=proto_names, use_integers_for_enums=enum_ints)
            print(json.dumps({"binary": binary, "json": text, "options": [emit, proto_names, enum_ints]}))


if __name__ == "__main__":
    main()
