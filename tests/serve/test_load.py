"""A short load test of the real ``forage serve`` (``benchmarks/serve_load.py``'s part 3, smaller):
concurrent clients with malformed requests and client disconnects mixed in, over the tests' stub
upstream server. It must end with the server still serving, nothing left running, its memory
flat and every budget respected; the benchmark runs the full 200 requests / 16 clients."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location("serve_load", ROOT / "benchmarks" /
                                                  "serve_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_mixed_load_leaves_the_server_serving_flat_and_within_every_budget():
    bench = _benchmark()
    load, problems, rss = bench.load_test(requests=40, clients=8, upstream="stub",
                                          model="smollm2", strategy="rag", knob=1, budget=600,
                                          rss_tolerance_mb=32, log=False)
    assert problems == []
    assert load.refused == 4 and load.disconnected >= 1 and load.ok >= 30
    assert rss["after"] - rss["warm"] <= 32
