#!/usr/bin/env python3
"""Reads a safetensors file with nothing but the standard library and prints
its tensors as JSON: {"name": {"dtype", "shape", "values" (flat)}, ...,
"__metadata__": {...}}.

Written from the published format (huggingface/safetensors README), not from
joule's reader, so that a joule-written file is checked by an independent
implementation: an 8-byte little-endian unsigned header size N, N bytes of
UTF-8 JSON, then a byte buffer that the tensors' data_offsets tile exactly.
Exits non-zero with a message on anything that does not follow the format.

Usage: read_safetensors.py FILE
"""
import json
import struct
import sys

# dtype -> (struct format of one element, bytes per element)
FORMATS = {
    "F32": ("f", 4),
    "BF16": ("H", 2),  # decoded below: the upper half of an f32
    "I8": ("b", 1),
    "U8": ("B", 1),
    "I32": ("i", 4),
}


def fail(message):
    sys.stderr.write("read_safetensors.py: " + message + "\n")
    sys.exit(1)


def bf16_to_float(bits):
    return struct.unpack("<f", struct.pack("<I", bits << 16))[0]


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than the 8-byte header size")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("header size %d beyond the file (%d bytes)" % (n, len(blob)))
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    buffer = blob[8 + n :]

    out = {}
    metadata = header.pop("__metadata__", None)
    if metadata is not None:
        if not all(isinstance(v, str) for v in metadata.values()):
            fail("__metadata__ values must be strings")
        out["__metadata__"] = metadata

    spans = []
    for name, info in header.items():
        dtype, shape = info["dtype"], info["shape"]
        begin, end = info["data_offsets"]
        if dtype not in FORMATS:
            fail("%s: dtype %s not handled by this reader" % (name, dtype))
        code, size = FORMATS[dtype]
        count = 1
        for d in shape:
            count *= d
        if count * size != end - begin:
            fail("%s: shape %s and dtype %s do not fit offsets %d..%d"
                 % (name, shape, dtype, begin, end))
        spans.append((begin, end, name))
        values = list(struct.unpack("<%d%s" % (count, code), buffer[begin:end]))
        if dtype == "BF16":
            values = [bf16_to_float(v) for v in values]
        out[name] = {"dtype": dtype, "shape": shape, "values": values}

    # The format requires the tensors to cover the buffer with no hole.
    cursor = 0
    for begin, end, name in sorted(spans):
        if begin != cursor:
            fail("%s: starts at %d, expected %d" % (name, begin, cursor))
        cursor = end
    if cursor != len(buffer):
        fail("%d bytes after the last tensor" % (len(buffer) - cursor))

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: read_safetensors.py FILE")
    main(sys.argv[1])
