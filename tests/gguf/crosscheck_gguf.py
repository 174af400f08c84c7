#!/usr/bin/env python3
"""Cross-checks ternc's GGUF reader and decoders against the gguf Python package (gguf-py).

Runs gguf-crosscheck-tool to write fixture files with ternc's GGUFWriter, dumps what ternc's
reader and decoders see (manifest.tsv + raw float32 per tensor), and compares with gguf-py's
GGUFReader and gguf.quants.dequantize: shapes, data offsets and every decoded value, bit for bit.
I2_S (bitnet.cpp, type id 36) is unknown to gguf-py: its raw bytes are decoded here with numpy
from the layout in docs/formats/gguf.md. stories260K.gguf is compared too when present.

Prints one line per check and a closing "N passed, N failed"; exits 1 on any failure, 77 when
numpy or gguf is not installed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import gguf
    from gguf import quants
except ImportError as e:  # a missing tool is a skip, not a failure
    print(f"skipped: {e}")
    sys.exit(77)

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")


def same_bits(a, b):
    """Equal as float32 bit patterns, except that any NaN equals any NaN."""
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    b = np.asarray(b, dtype=np.float32).reshape(-1)
    if a.shape != b.shape:
        return False
    nan = np.isnan(a) & np.isnan(b)
    return bool(np.all((a.view(np.uint32) == b.view(np.uint32)) | nan))


def run_dump(tool, path, out):
    os.makedirs(out, exist_ok=True)
    subprocess.run([tool, "dump", path, out], check=True)
    rows = []
    header = {}
    with open(os.path.join(out, "manifest.tsv")) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0].startswith("#"):
                header = dict(zip(fields[2::2], fields[3::2]))
                header[fields[0][2:]] = fields[1]
                continue
            name, dtype, shape, offset, size, raw = fields
            values = np.fromfile(os.path.join(out, raw), dtype=np.float32)
            rows.append(dict(name=name, dtype=dtype,
                             shape=[int(d) for d in shape.split(",")] if shape else [],
                             offset=int(offset), size=int(size), values=values))
    return header, rows


def compare_with_gguf_py(tool, path, out, label):
    header, ours = run_dump(tool, path, out)
    reader = gguf.GGUFReader(path)
    theirs = {t.name: t for t in reader.tensors}
    check(len(ours) == len(theirs), f"{label}: tensor count {len(ours)} == {len(theirs)}")
    check(int(header.get("kv_count", -1)) == len(reader.fields) - 3,  # gguf-py adds 3 header fields
          f"{label}: metadata count")
    for row in ours:
        t = theirs.get(row["name"])
        if t is None:
            check(False, f"{label}: {row['name']} missing in gguf-py")
            continue
        what = f"{label}: {row['name']} ({row['dtype']})"
        # gguf-py keeps ne order (innermost first); ternc reverses it.
        check(list(reversed([int(d) for d in t.shape])) == row["shape"], what + " shape")
        check(int(t.data_offset) == row["offset"], what + " data offset")
        check(int(t.n_bytes) == row["size"], what + " byte size")
        if t.tensor_type in (gguf.GGMLQuantizationType.I8, gguf.GGMLQuantizationType.I16,
                             gguf.GGMLQuantizationType.I32, gguf.GGMLQuantizationType.I64,
                             gguf.GGMLQuantizationType.F64):
            ref = np.asarray(t.data).astype(np.float32)  # gguf-py has no dequantize for these
        else:
            ref = quants.dequantize(np.asarray(t.data), t.tensor_type)
        check(same_bits(ref, row["values"]), what + " decoded values")


def decode_i2s(raw, n):
    """bitnet.cpp I2_S, x86 layout: 128 weights per 32 bytes, byte j of a block holds weights
    j, j+32, j+64, j+96 in bits 7-6, 5-4, 3-2, 1-0 as w+1; float32 scale at byte n/4."""
    codes = raw[: n // 4].reshape(-1, 32)
    groups = [(codes >> shift) & 3 for shift in (6, 4, 2, 0)]
    w = np.stack(groups, axis=1).reshape(-1).astype(np.int8) - 1
    scale = raw[n // 4: n // 4 + 4].view(np.float32)[0]
    return w, scale


def compare_i2s(tool, path, out):
    _, ours = run_dump(tool, path, out)
    data = np.fromfile(path, dtype=np.uint8)
    for row in ours:
        what = f"i2s fixture: {row['name']} ({row['dtype']})"
        n = int(np.prod(row["shape"]))
        raw = data[row["offset"]: row["offset"] + row["size"]]
        check(row["offset"] % 32 == 0, what + " aligned")
        if row["dtype"] != "i2_s":
            ref = raw.view(np.float32)
            check(same_bits(ref, row["values"]), what + " decoded values")
            continue
        check(row["size"] == n // 4 + 32, what + " byte size n/4 + 32")
        check(bool(np.all(raw[n // 4 + 4:] == 0)), what + " zero padding after the scale")
        w, scale = decode_i2s(raw, n)
        check(bool(np.all(w != 2)), what + " codes are ternary")
        check(same_bits(w.astype(np.float32) * scale, row["values"]), what + " decoded values")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True, help="path to gguf-crosscheck-tool")
    ap.add_argument("--data", help="shared data directory with stories260K.gguf")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tern-gguf-xcheck-") as tmp:
        subprocess.run([args.tool, "write", tmp], check=True)
        compare_with_gguf_py(args.tool, os.path.join(tmp, "fixture.gguf"),
                             os.path.join(tmp, "fixture"), "fixture")
        compare_i2s(args.tool, os.path.join(tmp, "fixture_i2s.gguf"), os.path.join(tmp, "i2s"))
        stories = os.path.join(args.data or "", "stories260K.gguf")
        if args.data and os.path.exists(stories):
            compare_with_gguf_py(args.tool, stories, os.path.join(tmp, "stories"), "stories260K")
        else:
            print("note: stories260K.gguf not found; only the fixtures were compared")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
