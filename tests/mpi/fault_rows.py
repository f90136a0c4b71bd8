"""Row snapshots of a results file for tests/mpi/test_fault_*.sh (run with /usr/bin/python3).

  fault_rows.py snap FILE OUT      writes the committed rows of FILE (h5py, swmr=True) to OUT:
                                   one line per row, "index config_id sha256", where the hash
                                   covers the /runs row and its /probs and /curves rows
  fault_rows.py intact OUT FILE    every row of snapshot OUT is unchanged at its index in FILE
  fault_rows.py count FILE         committed rows of FILE
  fault_rows.py final FILE N       FILE holds N configurations, each with exactly one ok row,
                                   which is the last row of its config id (failed rows before it
                                   are history; pending rows are ignored)
Exit 0 = the check held; 1 with a FAIL line otherwise."""
import hashlib
import sys

import h5py


def rows(path):
    with h5py.File(path, "r", swmr=True) as f:
        runs = f["runs"][:]
        probs = f["probs"][: len(runs)]
        curves = f["curves"][: len(runs)]
    out = []
    for i, r in enumerate(runs):
        if r["status"] == 0:
            continue
        h = hashlib.sha256(r.tobytes() + probs[i].tobytes() + curves[i].tobytes()).hexdigest()
        out.append((i, int(r["config_id"]), int(r["status"]), h))
    return out


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "snap":
        with open(args[1], "w") as f:
            for i, cid, _, h in rows(args[0]):
                f.write(f"{i} {cid:016x} {h}\n")
    elif cmd == "intact":
        now = {i: (f"{cid:016x}", h) for i, cid, _, h in rows(args[1])}
        n = 0
        for line in open(args[0]):
            i, cid, h = line.split()
            if now.get(int(i)) != (cid, h):
                fail(f"{args[1]}: row {i} (config {cid}) changed or vanished")
            n += 1
        print(f"ok: {args[1]}: the {n} earlier rows are intact")
    elif cmd == "count":
        print(len(rows(args[0])))
    elif cmd == "final":
        per = {}
        for i, cid, status, _ in rows(args[0]):
            per.setdefault(cid, []).append(status)
        if len(per) != int(args[1]):
            fail(f"{args[0]}: {len(per)} configurations, expected {args[1]}")
        for cid, st in per.items():
            if st.count(1) + st.count(2) != 1 or st[-1] not in (1, 2):
                fail(f"{args[0]}: config {cid:016x} has statuses {st}")
        print(f"ok: {args[0]}: {len(per)} configurations, each finished exactly once")
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
