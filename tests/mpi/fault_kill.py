"""SIGKILL fault injection for tests/mpi/test_fault_kill_*.sh (run with /usr/bin/python3).

  fault_kill.py --cli PRUNESWEEP --mpiexec MPIEXEC --spec SPEC.json --seed S --trials A:B

SPEC.json's output is OUT.h5; trial i uses its own copy OUT-i.h5. First one uninterrupted
3-rank run of the spec (OUT.h5) is the reference and calibrates the timing. Then each trial i in
[A, B), with choices drawn from random.Random(S * 1000 + i) (so a trial is reproducible on its
own, whichever range it runs in):
  - starts `mpiexec -np 3 prunesweep run`, waits a random moment (a random time after the launch,
    counted from the moment the rank to kill is through MPI_Init, or after a random number of
    rows were written: a random part of the mean time per row,
    measured by the reference run), snapshots every committed row of the file (h5py,
    swmr=True; the bytes of the /runs row, its /probs row and its /curves row), and sends
    SIGKILL to one random rank (0 = the coordinator, 1 or 2 = a worker);
  - checks that mpiexec ends (non-zero unless the sweep finished first), that the file opens
    with swmr=True, that every snapshot row is unchanged at its index, and that
    `prunesweep status` reads it and counts the finished configurations;
  - resumes (serially or with 3 ranks, drawn too) and checks: exit 0; the resume skipped exactly
    the finished configurations; every row present after the kill is unchanged at its index;
    each configuration has exactly one ok row and it is the last row of its config id; every
    configuration's final row is bit-identical to the reference (all fields except rank, host,
    finish time and seconds; its /probs and /curves rows).
Prints one line per trial (the drawn choices and what happened). Exit 0 = every check held."""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

ENV_FIELDS = {"rank", "host", "finish_time", "seconds_prune", "seconds_train", "seconds_eval"}
STATUS_OK, STATUS_DIVERGED = 1, 2


class Failure(Exception):
    pass


def read_rows(path):
    """Committed rows as a list of (index, config_id, status, key bytes, env-free bytes)."""
    with h5py.File(path, "r", swmr=True) as f:
        runs = f["runs"][:]
        probs = f["probs"][: len(runs)]
        curves = f["curves"][: len(runs)]
    names = [n for n in runs.dtype.names if n not in ENV_FIELDS]
    out = []
    for i, r in enumerate(runs):
        if r["status"] == 0:  # pending: an append that died half-way; holds nothing
            continue
        full = r.tobytes() + probs[i].tobytes() + curves[i].tobytes()
        pure = b"".join(np.asarray(r[n]).tobytes() for n in names)
        pure += probs[i].tobytes() + curves[i].tobytes()
        out.append((i, int(r["config_id"]), int(r["status"]), full, pure))
    return out


def finished_ids(rows):
    """Config ids whose latest row is ok or diverged (what a resume skips)."""
    last = {}
    for _, cid, status, _, _ in rows:
        last[cid] = status
    return {c for c, s in last.items() if s in (STATUS_OK, STATUS_DIVERGED)}


def check_prefix(before, after, what):
    """Every row of `before` is unchanged at its index in `after`."""
    idx = {i: full for i, _, _, full, _ in after}
    for i, cid, _, full, _ in before:
        if idx.get(i) != full:
            raise Failure(f"row {i} (config {cid:016x}) written before the kill changed {what}")


def descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def rank_pid(root, rank):
    for p in descendants(root):
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return p
    return None


def run(cmd, log, timeout=120):
    with open(log, "w") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--trials", required=True)
    a = ap.parse_args()
    first, last = (int(x) for x in a.trials.split(":"))
    spec = json.load(open(a.spec))
    base = spec["output"][: -len(".h5")]
    mpi = [a.mpiexec, "-np", "3", "--oversubscribe", a.cli, "run"]
    opts = ["--threads-per-rank", "1"]

    # Reference run, timed: launch -> file appears -> last row written -> exit.
    t0 = time.monotonic()
    p = subprocess.Popen(mpi + [a.spec] + opts, stdout=open(base + ".log", "w"),
                         stderr=subprocess.STDOUT)
    t_file = t_last = None
    n_done = 0
    while p.poll() is None:
        now = time.monotonic() - t0
        if t_file is None and os.path.exists(spec["output"]):
            t_file = now
        n = open(base + ".log").read().count(" done (")
        if n > n_done:
            n_done, t_last = n, now
        time.sleep(0.005)
    t_end = time.monotonic() - t0
    if p.returncode != 0 or t_file is None or t_last is None:
        sys.exit(f"FAIL: reference run exited {p.returncode}: {open(base + '.log').read()[-400:]}")
    ref = {cid: pure for _, cid, _, _, pure in read_rows(spec["output"])}
    n_total = len(ref)
    row_gap = (t_last - t_file) / n_total
    print(f"reference: {n_total} configurations; file after {t_file:.2f} s, last row after "
          f"{t_last:.2f} s, exit after {t_end:.2f} s; seed {a.seed}, trials {first}..{last - 1}",
          flush=True)

    killed_running = 0
    for trial in range(first, last):
        rng = random.Random(a.seed * 1000 + trial)
        rank = rng.randrange(3)
        after_rows = rng.randrange(n_total) if rng.random() < 0.75 else None  # else: from launch
        delay = rng.uniform(0, 1.5 * row_gap if after_rows is not None else t_end)
        resume_np = rng.choice([1, 1, 3])
        name = f"{base}-{trial}"
        out = name + ".h5"
        tspec = dict(spec, output=os.path.basename(out))
        with open(name + ".json", "w") as f:
            json.dump(tspec, f)
        desc = (f"trial {trial}: SIGKILL rank {rank} {delay:.3f} s after "
                f"{'the launch' if after_rows is None else f'{after_rows} rows were written'}, "
                f"resume with {'1 process' if resume_np == 1 else '3 ranks'}")
        try:
            log = open(name + ".log", "w")
            mp = subprocess.Popen(mpi + [name + ".json"] + opts, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  env=dict(os.environ, PSW_LOG_LEVEL="debug"))
            try:
                if after_rows is not None:
                    while mp.poll() is None and \
                            open(name + ".log").read().count(" done (") < after_rows:
                        time.sleep(0.002)
                # Not before the rank is through MPI_Init: a process killed inside Open MPI's
                # start-up once left mpiexec hanging (CI, trial 19 of seed 9, not reproduced in
                # 70 tries here); that is Open MPI's wire-up, not what this test is about.
                ready = f"r{rank} c- DEBUG sweep: MPI initialised"
                while mp.poll() is None and ready not in open(name + ".log").read():
                    time.sleep(0.002)
                start = time.monotonic()
                while time.monotonic() - start < delay and mp.poll() is None:
                    time.sleep(0.002)
                pid = None
                while mp.poll() is None and pid is None:  # the rank may not be started yet
                    pid = rank_pid(mp.pid, rank)
                snap = read_rows(out) if os.path.exists(out) and mp.poll() is None else []
                if pid is not None and mp.poll() is None:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:  # the rank ended just now
                        pass
                rc = mp.wait(timeout=60)
            finally:
                if mp.poll() is None:
                    os.killpg(mp.pid, signal.SIGKILL)
                    mp.wait()
                    raise Failure("mpiexec did not end within 60 s of the kill")
            killed = rc != 0
            killed_running += killed
            if not killed and pid is not None:
                # The sweep may have finished between the last check and the kill.
                if "sweep: complete" not in open(name + ".log").read():
                    raise Failure("mpiexec exited 0 after a rank was killed mid-sweep")

            after_kill = []
            if os.path.exists(out):
                after_kill = read_rows(out)  # the file opens with swmr=True
                check_prefix(snap, after_kill, "by the kill")
                done = len(finished_ids(after_kill))
                st = subprocess.run([a.cli, "status", out], capture_output=True, text=True)
                m = re.search(r"^progress: (\d+)/(\d+) done", st.stdout, re.M)
                if st.returncode != 0 or not m or int(m.group(1)) != done or \
                        int(m.group(2)) != n_total:
                    raise Failure(f"status after the kill: exit {st.returncode}, "
                                  f"{st.stdout[:200]!r}{st.stderr[-200:]!r}, expected {done} done")
            elif snap:
                raise Failure("the results file vanished after the kill")
            done = len(finished_ids(after_kill))

            rcmd = ([a.cli, "run"] if resume_np == 1 else mpi) + [name + ".json"] + opts
            rrc = run(rcmd, name + ".resume.log")
            rlog = open(name + ".resume.log").read()
            if rrc != 0:
                raise Failure(f"resume exited {rrc}: {rlog[-600:]}")
            if f"{done} already finished, {n_total - done} to run" not in rlog:
                line = re.search(r"sweep: .* to run.*", rlog)
                raise Failure(f"resume should skip {done}: {line.group(0) if line else rlog[-300:]}")

            final = read_rows(out)
            check_prefix(after_kill, final, "by the resume")
            per_id = {}
            for i, cid, status, _, pure in final:
                per_id.setdefault(cid, []).append((i, status, pure))
            if set(per_id) != set(ref):
                raise Failure(f"final file has {len(per_id)} config ids, the reference {len(ref)}")
            for cid, rows in per_id.items():
                oks = [r for r in rows if r[1] in (STATUS_OK, STATUS_DIVERGED)]
                if len(oks) != 1:
                    raise Failure(f"config {cid:016x} has {len(oks)} finished rows")
                if rows[-1] is not oks[0]:
                    raise Failure(f"config {cid:016x}: its last row is not its finished row")
                if oks[0][2] != ref[cid]:
                    raise Failure(f"config {cid:016x}: final row differs from the reference")
            extra = len(final) - n_total
            print(f"ok: {desc}: {'killed' if killed else 'finished first'}, {len(snap)} rows "
                  f"before the kill, {len(after_kill)} after, {done} finished, "
                  f"{n_total - done} rerun; {len(final)} rows"
                  f"{f' ({extra} failed rows kept as history)' if extra else ''}", flush=True)
        except (Failure, OSError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
            print(f"FAIL: {desc}: {e}", flush=True)
            sys.exit(1)
    if killed_running < (last - first) // 2:
        print(f"FAIL: only {killed_running} of {last - first} kills hit a running sweep "
              "(timing calibration is off)")
        sys.exit(1)
    print(f"PASS: {last - first} trials, {killed_running} kills of a running sweep")


if __name__ == "__main__":
    main()
