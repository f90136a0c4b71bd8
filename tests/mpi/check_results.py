"""Checks sweep results files for tests/mpi (run with /usr/bin/python3; needs h5py + numpy).

  check_results.py once FILE N [--failed K]
      FILE has exactly N committed rows, one per config id, K of them (default 0) failed and
      the rest ok, every ok row with finite accuracy/NLL and probabilities summing to 1.
  check_results.py same A B
      A and B hold the same config ids and, per config id, bit-identical results: every /runs
      field except the run-environment ones (rank, host, finish_time, seconds_*), the /probs
      row and the /curves row.
  check_results.py ids FILE
      prints the committed config ids, one per line (hex)."""
import sys

import h5py
import numpy as np

ENV_FIELDS = {"rank", "host", "finish_time", "seconds_prune", "seconds_train", "seconds_eval"}


def load(path):
    with h5py.File(path, "r", swmr=True) as f:
        runs = f["runs"][:]
        probs = f["probs"][: len(runs)]
        curves = f["curves"][: len(runs)]
    keep = runs["status"] != 0
    return runs[keep], probs[keep], curves[keep]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def once(path, n, n_failed):
    runs, probs, _ = load(path)
    ids = runs["config_id"]
    if len(runs) != n:
        fail(f"{path}: {len(runs)} rows, expected {n}")
    if len(np.unique(ids)) != n:
        fail(f"{path}: {n - len(np.unique(ids))} config ids appear more than once")
    failed = int((runs["status"] == 3).sum())
    ok = runs["status"] == 1
    if failed != n_failed or int(ok.sum()) != n - n_failed:
        fail(f"{path}: {int(ok.sum())} ok and {failed} failed rows, expected "
             f"{n - n_failed} and {n_failed}")
    for field in ("accuracy", "nll", "brier", "ece"):
        if not np.all(np.isfinite(runs[field][ok])):
            fail(f"{path}: non-finite {field} in an ok row")
    sums = np.nansum(probs[ok].astype(np.float64), axis=2)
    if not np.allclose(sums, 1.0, atol=1e-4):
        fail(f"{path}: probabilities of ok rows do not sum to 1 (max dev {np.abs(sums - 1).max()})")
    if n_failed and not np.all(np.isnan(probs[~ok])):
        fail(f"{path}: a failed row has non-NaN probabilities")
    print(f"ok: {path}: {n} rows, each config once, {n_failed} failed")


def same(a, b):
    ra, pa, ca = load(a)
    rb, pb, cb = load(b)
    ia = {int(x): i for i, x in enumerate(ra["config_id"])}
    ib = {int(x): i for i, x in enumerate(rb["config_id"])}
    if set(ia) != set(ib):
        fail(f"{a} and {b} hold different config ids ({len(ia)} vs {len(ib)})")
    fields = [f for f in ra.dtype.names if f not in ENV_FIELDS]
    for cid in sorted(ia):
        x, y = ra[ia[cid]], rb[ib[cid]]
        for f in fields:
            if np.asarray(x[f]).tobytes() != np.asarray(y[f]).tobytes():
                fail(f"config {cid:016x}: field {f} differs: {x[f]!r} vs {y[f]!r}")
        if pa[ia[cid]].tobytes() != pb[ib[cid]].tobytes():
            fail(f"config {cid:016x}: /probs rows differ")
        if ca[ia[cid]].tobytes() != cb[ib[cid]].tobytes():
            fail(f"config {cid:016x}: /curves rows differ")
    print(f"ok: {a} and {b}: {len(ia)} configs bit-identical ({len(fields)} fields, probs, curves)")


def ids(path):
    runs, _, _ = load(path)
    for x in runs["config_id"]:
        print(f"{int(x):016x}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "once" and len(sys.argv) in (4, 6):
        nf = int(sys.argv[5]) if len(sys.argv) == 6 and sys.argv[4] == "--failed" else 0
        once(sys.argv[2], int(sys.argv[3]), nf)
    elif cmd == "same" and len(sys.argv) == 4:
        same(sys.argv[2], sys.argv[3])
    elif cmd == "ids" and len(sys.argv) == 3:
        ids(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
