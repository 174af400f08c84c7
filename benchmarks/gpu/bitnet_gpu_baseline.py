#!/usr/bin/env python3
"""microsoft/BitNet's own GPU kernel (`gpu/bitnet_kernels`, W2A8: int8 activations x 2-bit
weights, bf16 out) at batch 1 for the 2B-4T shapes, timed as tern-gpu-gemv times ternc's
kernels: 64 launches back to back in a CUDA graph, cycling through enough weight copies
(256 MB or more) that each streams from device memory. Prints one JSON object.

Usage: bitnet_gpu_baseline.py LIBBITNET.so, the library BitNet's compile.sh builds with nvcc
(benchmarks/device-gpu.sh does that from a checkout of the repository carried to the GPU
machine; no file of it is part of this repository). Also checks the kernel's answer on one
shape against an int32 matmul of the same codes, so the timing is of a working kernel."""
import ctypes
import json
import sys

import torch

from torch_baseline import time_ms  # the same timing as the torch yardstick

SHAPES = {"qkv": (3840, 2560), "o": (2560, 2560), "gate_up": (13824, 2560),
          "down": (2560, 6912)}


def launch(lib, x, w, out, s, ws, n, k, stream):
    lib.bitlinear_int8xint2(ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(w.data_ptr()),
                            ctypes.c_void_p(out.data_ptr()), ctypes.c_void_p(s.data_ptr()),
                            ctypes.c_void_p(ws.data_ptr()), ctypes.c_int(1), ctypes.c_int(n),
                            ctypes.c_int(k), ctypes.c_void_p(stream.cuda_stream))


def check(lib, dev):
    """Every weight +1 (the kernel decodes a 2-bit code c as c - 2, so code 3 in every field of
    every byte: 0xFF): the output must be the sum of the int8 activations, whatever order the
    packing interleaves the codes in."""
    n, k = 2560, 2560
    w = torch.full((n, k // 4), 0xFF, dtype=torch.uint8, device=dev)
    x = torch.randint(-128, 127, (1, k), dtype=torch.int8, device=dev)
    out = torch.empty((1, n), dtype=torch.bfloat16, device=dev)
    s = torch.ones(1, dtype=torch.bfloat16, device=dev)
    ws = torch.ones(6, dtype=torch.bfloat16, device=dev)
    launch(lib, x, w, out, s, ws, n, k, torch.cuda.current_stream())
    torch.cuda.synchronize()
    want = float(x.to(torch.int32).sum())
    got = out.float()
    return {"all_ones_weights_sum": want, "max_abs_error": float((got - want).abs().max()),
            "bf16_ulp_at_sum": abs(want) / 128.0}


def main():
    lib = ctypes.CDLL(sys.argv[1])
    dev = torch.device("cuda")
    result = {"device": torch.cuda.get_device_name(0), "kernel": "microsoft/BitNet gpu/ "
              "ladder_int8xint2_kernel", "check": check(lib, dev), "gemv": {}}
    for name, (n, k) in SHAPES.items():
        weight_bytes = n * k // 4  # 2 bits per weight; one bf16 scale per tensor besides
        copies = max(1, -(-(256 << 20) // weight_bytes))
        ws_ = [torch.randint(0, 256, (n, k // 4), dtype=torch.uint8, device=dev)
               for _ in range(copies)]
        x = torch.randint(-128, 127, (1, k), dtype=torch.int8, device=dev)
        out = torch.empty((1, n), dtype=torch.bfloat16, device=dev)
        s = torch.ones(1, dtype=torch.bfloat16, device=dev)
        scales = torch.ones(6, dtype=torch.bfloat16, device=dev)
        launches = 64
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            launch(lib, x, ws_[0], out, s, scales, n, k, stream)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(launches):
                launch(lib, x, ws_[i % copies], out, s, scales, n, k, stream)
        ms = time_ms(graph.replay) / launches
        result["gemv"][name] = {"n": n, "k": k, "copies": copies, "us": ms * 1e3,
                                "gbps": weight_bytes / ms / 1e6}
        del graph, ws_
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
