#!/usr/bin/env python3
"""The GPU's bandwidth and torch's bf16 GEMVs for the 2B-4T shapes: the yardsticks that
docs/perf/cuda.md compares ternc's kernels with. Prints one JSON object.

- copy_gbps: device-to-device copy of 1 GiB (read + write bytes / time), best of 20.
- gemv: per weight shape (n x k), the bf16 x @ W^T time for one token and its GB/s, measured
  as tern-gpu-gemv measures ternc's kernels: 64 GEMVs back to back in a CUDA graph, cycling
  through enough weight copies (256 MB or more) that each streams from device memory.
- decode_step_ms: the GEMVs of one decode step (30 layers of fused QKV, O, fused gate/up,
  down, then the lm_head), run back to back from Python; decode_step_graph_ms the same step
  replayed as a CUDA graph: lower bounds for a bf16 engine's step."""
import json

import torch

SHAPES = {"qkv": (3840, 2560), "o": (2560, 2560), "gate_up": (13824, 2560),
          "down": (2560, 6912), "lm_head": (128256, 2560)}


def time_ms(fn, reps=50):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end))
    return best


def main():
    dev = torch.device("cuda")
    src = torch.empty(1 << 30, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    copy_ms = time_ms(lambda: dst.copy_(src), reps=20)
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "copy_gbps": 2 * src.numel() / copy_ms / 1e6, "gemv": {}}
    del src, dst
    weights = {}
    for name, (n, k) in SHAPES.items():
        copies = max(1, -(-(256 << 20) // (n * k * 2)))
        ws = [torch.randn(n, k, dtype=torch.bfloat16, device=dev) for _ in range(copies)]
        x = torch.randn(1, k, dtype=torch.bfloat16, device=dev)
        launches = 64
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            for w in ws:  # warm-up outside the capture (cuBLAS picks its kernels)
                x @ w.t()
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(launches):
                x @ ws[i % copies].t()
        ms = time_ms(graph.replay, reps=10) / launches
        result["gemv"][name] = {"n": n, "k": k, "copies": copies, "us": ms * 1e3,
                                "gbps": n * k * 2 / ms / 1e6}
        weights[name] = (ws[0], x)
        del graph, ws[1:]
    layers = 30
    layer_weights = [{name: torch.randn(n, k, dtype=torch.bfloat16, device=dev)
                      for name, (n, k) in SHAPES.items() if name != "lm_head"}
                     for _ in range(layers)]
    xs = {k: torch.randn(1, k, dtype=torch.bfloat16, device=dev) for k in (2560, 6912)}
    lm_w, lm_x = weights["lm_head"]

    def step():
        for layer in layer_weights:
            for name, w in layer.items():
                xs[w.shape[1]] @ w.t()
        lm_x @ lm_w.t()
    result["decode_step_ms"] = time_ms(step, reps=10)
    result["decode_step_tok_s"] = 1000.0 / result["decode_step_ms"]
    # The same step replayed as one CUDA graph: no Python or launch overhead, the bound a
    # graph-captured bf16 engine meets.
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        step()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        step()
    result["decode_step_graph_ms"] = time_ms(graph.replay, reps=10)
    result["decode_step_graph_tok_s"] = 1000.0 / result["decode_step_graph_ms"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
