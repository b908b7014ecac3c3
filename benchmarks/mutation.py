"""Mutation testing of the science code with cosmic-ray (a benchmark, not CI).

Each *target* (a module or package) is mutated one small change at a time (a flipped
sign, ``<`` for ``<=``, a changed number, a removed ``not``, ...) and the target's fast
tests are run against each mutant; a mutant is *killed* when a test fails. The score
is the share killed; survivors are printed with their diff, to be either explained
(equivalent, or harmless) or killed by a new test (see benchmarks/README.md).

The repository is copied (tracked and untracked, not ignored files) into a scratch
folder and mutated there, so the work tree is never touched and other work can go on.

Usage::

    pip install cosmic-ray                                  # not a project dependency
    python benchmarks/mutation.py --list                    # targets and their tests
    python benchmarks/mutation.py random rules              # run two targets
    python benchmarks/mutation.py all --jobs 2              # everything (hours)
    python benchmarks/mutation.py random --report-only --workdir /tmp/mut  # reprint

Results (per target) go to ``<workdir>/<target>/session.sqlite`` and a summary to
``<workdir>/summary.json``. A session is resumable: running a target again skips the
mutants already tested.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: target -> (module paths to mutate, fast tests that guard them).
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "random": (["src/tfrsim/random.py"], ["tests/test_streams.py"]),
    "rules": (
        ["src/tfrsim/monitoring/rules.py"],
        ["tests/test_rules.py", "tests/test_monitoring.py"],
    ),
    "monitoring": (
        [
            "src/tfrsim/monitoring/assay.py",
            "src/tfrsim/monitoring/follow_up.py",
            "src/tfrsim/monitoring/observe.py",
            "src/tfrsim/monitoring/schedule.py",
        ],
        [
            "tests/test_monitoring.py",
            "tests/test_assay.py",
            "tests/test_rules.py",
            "tests/test_spreads.py",
        ],
    ),
    "cohort": (
        ["src/tfrsim/cohort"],
        [
            "tests/test_scores.py",
            "tests/test_cohort.py",
            "tests/test_streams.py",
            "tests/test_spreads.py",
        ],
    ),
    "disease": (
        ["src/tfrsim/disease"],
        [
            "tests/test_disease.py",
            "tests/test_effect_recovery.py",
            "tests/test_spreads.py",
            "tests/test_immune.py",
        ],
    ),
    "analysis": (
        ["src/tfrsim/analysis"],
        [
            "tests/test_analysis.py",
            "tests/test_analysis_summaries.py",
            "tests/test_analysis_counts.py",
            "tests/test_efron.py",
            "tests/test_cox_extras.py",
            "tests/test_survfit.py",
            "tests/test_interval.py",
            "tests/test_cure.py",
            "tests/test_r_reference.py",
        ],
    ),
    "objective": (
        ["src/tfrsim/calibration/objective.py"],
        ["tests/test_objective.py", "tests/test_duration_gain.py"],
    ),
}
#: Seconds allowed per mutant, as a multiple of the unmutated test time (a mutant that
#: hangs, e.g. an infinite loop, counts as killed).
TIMEOUT_FACTOR = 4.0
#: Seed of the order in which a partial session (--sample/--budget) tests mutants.
SAMPLE_SEED = 20261202


def copy_repo(dest: Path) -> None:
    """Copy the tracked and untracked (not ignored) files of the repository."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        src, target = ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():  # e.g. src/tfrsim/conf -> ../../conf
            target.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, target)


def test_command(tests: list[str]) -> str:
    # -x: the first failing test kills the mutant; no cache, no addopts, and none of the
    # plugins the unit tests do not use (nbmake, hypothesis, benchmark: ~2-4 s of import
    # per mutant on a loaded machine).
    plugins = "-p no:cacheprovider -p no:nbmake -p no:hypothesispytest -p no:benchmark"
    return f"{sys.executable} -m pytest -x -q {plugins} -o addopts= {' '.join(tests)}"


def baseline_seconds(repo: Path, tests: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(test_command(tests).split(), cwd=repo, env=env, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"the unmutated tests fail:\n{proc.stdout.decode()[-3000:]}")
    return time.perf_counter() - t0


def run_target(
    name: str,
    workdir: Path,
    report_only: bool,
    sample: int | None,
    budget: float | None,
    retest: bool = False,
) -> dict[str, object]:
    modules, tests = TARGETS[name]
    folder = workdir / name
    repo = folder / "repo"
    session = folder / "session.sqlite"
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "MPLBACKEND": "Agg"}
    if retest:  # the survivors against the tests as they are now, in a fresh copy
        fresh = folder / "retest-repo"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        copy_repo(fresh)
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(folder)]
        fresh_env = {**env, "PYTHONPATH": str(fresh / "src")}
        subprocess.run([*command, "--retest"], cwd=fresh, env=fresh_env, check=True)
    elif not report_only:
        if not repo.exists():
            repo.mkdir(parents=True)
            copy_repo(repo)
        if not session.exists():
            seconds = baseline_seconds(repo, tests, env)
            config = folder / "cosmic-ray.toml"
            module_path = ", ".join(f'"{m}"' for m in modules)
            config.write_text(
                "[cosmic-ray]\n"
                f"module-path = [{module_path}]\n"
                f"timeout = {max(30.0, TIMEOUT_FACTOR * seconds):.0f}\n"
                "excluded-modules = []\n"
                f'test-command = "{test_command(tests)}"\n'
                "[cosmic-ray.distributor]\n"
                'name = "local"\n'
            )
            subprocess.run(["cosmic-ray", "init", str(config), str(session)], cwd=repo, check=True)
        if sample is None and budget is None:
            command = ["cosmic-ray", "exec", str(folder / "cosmic-ray.toml"), str(session)]
        else:  # a partial session: this script's worker mode, in the mutated copy
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(folder)]
            command += ["--sample", str(sample)] if sample is not None else []
            command += ["--budget", str(budget)] if budget is not None else []
        subprocess.run(command, cwd=repo, env=env, check=True)
    return summarise(name, session)


def sample_order(items: list[Any]) -> list[str]:
    """The job ids of a session in one fixed random order: the order a sample follows.

    The mutants are sorted by what they change (module, operator, occurrence; job ids
    are random uuids), then shuffled with a fixed seed, so the same code gives the same
    sample. Taking the first untested mutants in this order is a simple random sample
    without replacement, and extending a sample keeps it one.
    """
    import random  # the benchmark's sampling order, not simulation randomness

    def key(item: Any) -> tuple[tuple[str, str, int], ...]:
        return tuple((str(m.module_path), m.operator_name, m.occurrence) for m in item.mutations)

    order = [item.job_id for item in sorted(items, key=key)]
    random.Random(SAMPLE_SEED).shuffle(order)
    return order


def run_sample(folder: Path, sample: int | None, budget: float | None) -> None:
    """Test up to ``sample`` more untested mutants, starting none after ``budget`` s.

    Runs in the copied repository (the working directory), as ``cosmic-ray exec`` does,
    and records each result in the session as soon as it is known, so an interrupted
    run loses at most the mutant under test.
    """
    from cosmic_ray.config import load_config
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db

    config = load_config(str(folder / "cosmic-ray.toml"))
    deadline = time.monotonic() + budget if budget is not None else float("inf")
    with use_db(str(folder / "session.sqlite"), WorkDB.Mode.open) as db:
        pending = {item.job_id: item for item in db.pending_work_items}
        queue = [job for job in sample_order(list(db.work_items)) if job in pending]
        todo = queue if sample is None else queue[:sample]
        for count, job in enumerate(todo, start=1):
            if time.monotonic() > deadline:
                print(f"time budget spent after {count - 1} mutants", flush=True)
                break
            t0 = time.perf_counter()
            result = mutate_and_test(pending[job].mutations, config.test_command, config.timeout)
            db.set_result(job, result)
            outcome = "killed" if result.is_killed else "SURVIVED"
            seconds = time.perf_counter() - t0
            print(f"[{count}/{len(todo)}] {job[:8]} {outcome} ({seconds:.0f} s)", flush=True)


def retest_survivors(folder: Path) -> None:
    """Run the session's survivors again with the tests of the working directory (a
    fresh copy of the repository), recording which are now killed in ``retest.json``
    next to the session (the session itself keeps the outcome of the run)."""
    from cosmic_ray.config import load_config
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db

    config = load_config(str(folder / "cosmic-ray.toml"))
    with use_db(str(folder / "session.sqlite"), WorkDB.Mode.open) as db:
        survivors = [item for item, result in db.completed_work_items if not result.is_killed]
    # Only survivors not retested yet (a kill stays a kill: tests are only ever added;
    # delete retest.json to retest every survivor again).
    file = folder / "retest.json"
    outcome = json.loads(file.read_text()) if file.exists() else {}
    for item in survivors:
        if item.job_id in outcome:
            continue
        result = mutate_and_test(item.mutations, config.test_command, config.timeout)
        outcome[item.job_id] = "killed" if result.is_killed else "survived"
        where = f"{item.mutations[0].module_path}:{item.mutations[0].start_pos[0]}"
        print(
            f"retest {item.job_id[:8]} {where} {item.mutations[0].operator_name}: "
            f"{outcome[item.job_id]}",
            flush=True,
        )
        file.write_text(json.dumps(outcome, indent=2))


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """Exact binomial 95 % interval of ``k`` successes in ``n`` trials."""
    from scipy import stats

    if n == 0:
        return (float("nan"), float("nan"))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return (float(ci.low), float(ci.high))


def summarise(name: str, session: Path) -> dict[str, object]:
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(session), WorkDB.Mode.open) as db:
        done = list(db.completed_work_items)
        total = db.num_work_items
    killed = [r for _, r in done if r.is_killed]
    retest_file = session.parent / "retest.json"
    retested = json.loads(retest_file.read_text()) if retest_file.exists() else {}
    timeouts = [r for r in killed if r.output == "timeout"]
    survivors = [
        {
            "module": str(item.mutations[0].module_path),
            "line": item.mutations[0].start_pos[0],
            "operator": item.mutations[0].operator_name,
            "occurrence": item.mutations[0].occurrence,
            "diff": result.diff,
            "retest": retested.get(item.job_id, "not retested"),
        }
        for item, result in done
        if not result.is_killed
    ]
    survivors.sort(key=lambda s: (s["module"], s["line"]))
    score_now = (len(killed) + sum(v == "killed" for v in retested.values())) / max(len(done), 1)
    return {
        "target": name,
        "mutants": total,
        "tested": len(done),
        "killed": len(killed),
        "killed_by_timeout": len(timeouts),
        "killed_on_retest": sum(v == "killed" for v in retested.values()),
        "score": len(killed) / len(done) if done else float("nan"),
        # Exact (Clopper-Pearson) 95 % interval of the score after the retest, for a
        # sample (tested < mutants; a sample without replacement makes it conservative).
        "score_after_retest": score_now,
        "ci95_after_retest": clopper_pearson(round(score_now * len(done)), len(done)),
        "survivors": survivors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help=f"any of {sorted(TARGETS)} or 'all'")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    parser.add_argument("--jobs", type=int, default=1, help="targets run side by side")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--sample", type=int, default=None, help="test at most N more mutants per target"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="per target, start no new mutant after this many minutes",
    )
    parser.add_argument(
        "--retest",
        action="store_true",
        help="run the survivors again with the current tests (after adding tests)",
    )
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    budget = 60.0 * args.budget if args.budget is not None else None
    if args.worker is not None:  # internal: runs in the copied repo
        if args.retest:
            retest_survivors(args.worker)
        else:
            run_sample(args.worker, args.sample, budget)
        return
    if args.list or not args.targets:
        for name, (modules, tests) in TARGETS.items():
            print(f"{name:11s} {' '.join(modules)}\n{'':11s} tests: {' '.join(tests)}")
        return
    names = sorted(TARGETS) if args.targets == ["all"] else args.targets
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        raise SystemExit(f"unknown target(s) {unknown}; valid: {sorted(TARGETS)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tfrsim-mutation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(
            pool.map(
                lambda n: run_target(
                    n, workdir, args.report_only, args.sample, budget, args.retest
                ),
                names,
            )
        )
    for r in results:
        print(
            f"\n== {r['target']}: {r['killed']}/{r['tested']} killed "
            f"({100 * float(r['score']):.1f} %; {r['killed_by_timeout']} by timeout), "
            f"{r['killed_on_retest']} more on retest "
            f"(score {100 * float(r['score_after_retest']):.1f} %, 95 % CI "
            f"{100 * r['ci95_after_retest'][0]:.1f}-{100 * r['ci95_after_retest'][1]:.1f}), "
            f"{r['mutants']} mutants"
        )
        for s in r["survivors"]:  # type: ignore[attr-defined]
            print(
                f"-- survived: {s['module']}:{s['line']} {s['operator']} "
                f"(retest: {s['retest']})\n{s['diff']}"
            )
    summary = workdir / "summary.json"
    summary.write_text(json.dumps(results, indent=2))
    print(f"\nsummary: {summary}")


if __name__ == "__main__":
    main()
