#!/usr/bin/python3
"""Independent numpy implementation of the evaluation metrics (docs/metrics.md).

Reads the JSON written by `test_metrics --dump FILE` (random logits, letter ids, gold labels,
and the C results: per-example probabilities, full-vocabulary log-probabilities, choice mass,
and the metrics object) and recomputes everything with vectorised numpy. Exit 0 when all agree
within 1e-12 (counts exactly), 1 otherwise. Run with /usr/bin/python3 (needs numpy).
"""
import json
import math
import sys

import numpy as np

KMAX = 10
TOL = 1e-12


def close(a, b, tol=TOL):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol + tol * abs(b)


def softmax_checks(case):
    """Per-example letter softmax, full log-softmax and mass from the float32 logits."""
    worst = 0.0
    bad = []
    for i, ex in enumerate(case["examples"]):
        lg = np.asarray(ex["logits"], dtype=np.float32).astype(np.float64)
        ids = np.asarray(ex["letters"], dtype=np.int64)
        m = lg.max()
        log_z = m + np.log(np.exp(lg - m).sum())
        full = lg[ids] - log_z
        sel = lg[ids]
        p = np.exp(sel - sel.max())
        p /= p.sum()
        mass = np.exp(full).sum()
        for name, want, got in (("prob", p, ex["prob"]), ("logprob_full", full, ex["logprob_full"])):
            d = np.max(np.abs(np.asarray(got) - want) / (1.0 + np.abs(want)))
            worst = max(worst, float(d))
            if d > TOL:
                bad.append(f"example {i}: {name} differs by {d:.3g}")
        d = abs(ex["choice_mass"] - mass)
        worst = max(worst, d)
        if d > TOL:
            bad.append(f"example {i}: choice_mass differs by {d:.3g}")
    return worst, bad


def metrics(case, n_bins):
    """The metrics from the C probabilities (so that bin membership is compared exactly)."""
    exs = case["examples"]
    n = len(exs)
    k = np.array([len(e["prob"]) for e in exs])
    gold = np.array([e["gold"] for e in exs])
    P = np.zeros((n, KMAX))
    for i, e in enumerate(exs):
        P[i, : k[i]] = e["prob"]
    valid = np.arange(KMAX)[None, :] < k[:, None]
    masked = np.where(valid, P, -np.inf)
    top = np.argmax(masked, axis=1)  # first maximum: ties go to the lowest index
    conf = P[np.arange(n), top]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)
    H = -plogp.sum(axis=1)
    out = {
        "n_examples": n,
        "entropy": H.mean(),
        "entropy_norm": (H / np.log(k)).mean(),
        "choice_mass": np.mean([e["choice_mass"] for e in exs]),
        "ece_bins": n_bins,
    }
    lab = gold >= 0
    nl = int(lab.sum())
    out["n_labeled"] = nl
    count = np.zeros(n_bins, dtype=np.int64)
    mean_conf = [None] * n_bins
    accb = [None] * n_bins
    if nl == 0:
        for key in ("accuracy", "nll", "brier", "ece", "mce"):
            out[key] = None
    else:
        g = gold[lab]
        Pl = P[lab]
        correct = (top[lab] == g).astype(np.float64)
        out["accuracy"] = correct.mean()
        out["nll"] = (-np.log(Pl[np.arange(nl), g])).mean()
        onehot = np.eye(KMAX)[g]
        out["brier"] = (((Pl - onehot) ** 2) * valid[lab]).sum(axis=1).mean()
        c = conf[lab]
        b = np.minimum(np.floor(c * n_bins), n_bins - 1).astype(np.int64)
        count = np.bincount(b, minlength=n_bins)
        sconf = np.bincount(b, weights=c, minlength=n_bins)
        sacc = np.bincount(b, weights=correct, minlength=n_bins)
        ece, mce = 0.0, 0.0
        for j in range(n_bins):
            if count[j] == 0:
                continue
            mean_conf[j] = sconf[j] / count[j]
            accb[j] = sacc[j] / count[j]
            gap = abs(accb[j] - mean_conf[j])
            ece += count[j] / nl * gap
            mce = max(mce, gap)
        out["ece"], out["mce"] = ece, mce
    out["reliability"] = {"count": [int(x) for x in count], "mean_conf": mean_conf, "accuracy": accb}
    return out


def compare(want, got):
    bad = []
    for key in ("n_examples", "n_labeled", "ece_bins"):
        if want[key] != got[key]:
            bad.append(f"{key}: C {got[key]} numpy {want[key]}")
    for key in ("accuracy", "entropy", "entropy_norm", "nll", "brier", "ece", "mce", "choice_mass"):
        w = None if want[key] is None else float(want[key])
        if not close(got[key], w):
            bad.append(f"{key}: C {got[key]!r} numpy {w!r}")
    rw, rg = want["reliability"], got["reliability"]
    if rw["count"] != rg["count"]:
        bad.append(f"reliability.count: C {rg['count']} numpy {rw['count']}")
    for key in ("mean_conf", "accuracy"):
        for j, (w, g) in enumerate(zip(rw[key], rg[key])):
            if not close(g, w):
                bad.append(f"reliability.{key}[{j}]: C {g!r} numpy {w!r}")
    return bad


def main():
    if len(sys.argv) != 2:
        print("usage: metrics_ref.py CASES.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    n_bins = doc["ece_bins"]
    failures = 0
    n_ex = 0
    worst = 0.0
    for ci, case in enumerate(doc["cases"]):
        n_ex += len(case["examples"])
        w, bad = softmax_checks(case)
        worst = max(worst, w)
        want = metrics(case, n_bins)
        bad += compare(want, case["metrics"])
        # The comparison must be able to fail: a perturbed accuracy or count is caught.
        mutated = json.loads(json.dumps(case["metrics"]))
        if mutated["accuracy"] is not None:
            mutated["accuracy"] += 1e-9
        else:
            mutated["entropy"] += 1e-9
        if not compare(want, mutated):
            bad.append("self-check: a perturbed metric was not detected")
        for line in bad[:10]:
            print(f"case {ci}: {line}")
        failures += len(bad)
        m = case["metrics"]
        print(f"case {ci}: n={m['n_examples']} labeled={m['n_labeled']} acc={m['accuracy']} "
              f"ece={m['ece']} nll={m['nll']} -> {'ok' if not bad else 'MISMATCH'}")
    print(f"{len(doc['cases'])} cases, {n_ex} examples, softmax max rel diff {worst:.3g}, "
          f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
