"""numpy legacy RandomState streams for test/unit/random: reads a JSON list of requests on stdin."""
import json
import sys

import numpy as np


def run(req):
    rs = np.random.RandomState(req["seed"])
    kind = req["kind"]
    if kind == "uint32":
        return [int(v) for v in rs._bit_generator.random_raw(req["n"])]
    if kind == "rand":
        return [float(v) for v in rs.rand(req["n"])]
    if kind == "randint":
        return [int(v) for v in rs.randint(req["low"], req["high"], size=req["n"])]
    if kind == "permutation":
        return [int(v) for v in rs.permutation(req["n"])]
    if kind == "choice":
        return [int(v) for v in rs.choice(req["n"], req["m"], replace=req["replace"])]
    if kind == "global_choice":
        np.random.seed(req["seed"])
        return [int(v) for v in np.random.choice(req["n"], req["m"], replace=False)]
    if kind == "randn":
        return [float(v) for v in rs.randn(req["n"])]
    if kind == "mixed":
        out = []
        out.append(float(rs.rand()))
        out.extend(int(v) for v in rs.permutation(10))
        out.append(int(rs.randint(5, 17)))
        out.append(float(rs.randn()))
        out.append(float(rs.rand()))
        out.append(float(rs.randn()))
        out.append(float(rs.randn()))
        out.append(int(rs.randint(0, 3_000_000_000_000)))
        return out
    raise ValueError(kind)


print(json.dumps([run(r) for r in json.load(sys.stdin)]))
