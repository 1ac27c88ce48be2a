"""The suite's pytest plugin (loaded by the repository's conftest.py): options, the session fixture,
scale-dependent parametrization, the executor's driver and the end-of-run report. All behaviour lives
in ``bt_core``; this module wires it to pytest and is the one place that knows the repository's layout."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from bt_core.drive import CheckSpec
from bt_core.errors import BTError, MissingDataError, NotBuiltError
from bt_core.estimate import key_of
from bt_core.progress import MODES as PROGRESS
from bt_core.observers import report_progress, watch
from bt_core.precision import CHOICES as PRECISIONS
from bt_core.runner import (AUDIT_SKIP, build_session, drive_checks, finish_report, plan_options, print_plan,
                            stop_reason)
from bt_core.session import case_name, check_key

pytest_plugins = ("benchmark.time_limits",)      # the time limits and what a test out of time says
REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "cases"
MODES = ("fixed-feature", "full")


def is_case(nodeid: str) -> bool:
    """Whether a test is one of the paper's claims (a module under cases/)."""
    return nodeid.startswith("cases/")


def known_names(session) -> str:
    cases = sorted(case_name(p) for p in CASES.glob("test_*.py"))
    return (f"Known cases: {', '.join(cases)}; targets at scale {session.scale.name}: "
            f"{', '.join(session.scale.targets)}; modes: fixed-feature, full.")


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("bias-transfer", "bias-transfer benchmark")
    g.addoption("--bt-scale", default=os.environ.get("BT_SCALE", "mini"),
                help="mini (synthetic data, CPU, minutes), paper (the paper's data, GPU) or paper-smoke "
                     "(the paper's code path on a CPU budget)")
    g.addoption("--bt-device", default=os.environ.get("BT_DEVICE", "auto"), help="auto, cpu, cuda or cuda:N")
    g.addoption("--bt-precision", default=os.environ.get("BT_PRECISION", "auto"), choices=PRECISIONS,
                help="arithmetic of every model: auto (fp16 on CUDA, bf16 on a CPU with native bf16, else "
                     "fp32), fp32, bf16 or fp16; part of each model's cache key")
    g.addoption("--bt-compile", default=os.environ.get("BT_COMPILE", "none"),
                help="architectures whose models train through torch.compile: none (default), all, or names "
                     "comma-separated; inductor's cache sits in the artifact cache; part of each model's cache key")
    g.addoption("--bt-data-root", default=os.environ.get("BT_DATA_ROOT"),
                help="folder of .beton files written by `benchmark prepare` (paper scale)")
    g.addoption("--bt-cache", default=None, help="artifact cache folder (default $BT_CACHE_DIR or ~/.cache)")
    g.addoption("--bt-seeds", default=None,
                help="auto (default: each check gets seeds until the sequential design decides), a fixed "
                     "count (e.g. 5) or a comma list (e.g. 0,1,2), judged by a fixed-sample t-test")
    g.addoption("--bt-first-seed", default=None, help="first seed of --bt-seeds auto or a count (default 0)")
    g.addoption("--bt-looks", default=None,
                help="seed counts at which --bt-seeds auto judges a check (default 3,5,8,12,16,20,25,30)")
    g.addoption("--bt-max-seeds", default=None, help="cut the looks of --bt-seeds auto at this many seeds")
    g.addoption("--bt-arch", default=None, help="architecture of every model (registry name)")
    g.addoption("--bt-target", action="append", default=None, help="run only these targets (repeatable)")
    g.addoption("--bt-mode", action="append", default=None, choices=MODES, help="run only these transfer modes")
    g.addoption("--bt-update-baselines", action="store_true",
                help="record this run's results as the baselines of its architecture (only checks that hold)")
    g.addoption("--bt-force-baselines", action="store_true",
                help="with --bt-update-baselines: record checks that do not hold too, marked as forced")
    g.addoption("--bt-baselines", default=str(REPO / "baselines"), help="baselines folder")
    g.addoption("--bt-output", default=os.environ.get("BT_OUTPUT", str(REPO / "bt-results")),
                help="where results.json/csv and figures go")
    g.addoption("--bt-require-data", action="store_true", help="fail instead of skip when data is missing")
    g.addoption("--bt-progress", default=os.environ.get("BT_PROGRESS", "auto"), choices=PROGRESS,
                help="the run's progress display when cases are selected: live (a panel), lines (a plain "
                     "line per model), auto (live on a terminal, else lines; the default) or off")
    g.addoption("--bt-source-weights", default=None,
                help="audit a pre-trained source: its weights file (a state dict or a checkpoint holding one "
                     "under 'state_dict' or 'model'), read without unpickling code; needs --bt-arch. It "
                     "replaces the suite's clean source; only the natural-bias checks (marker audit) run")
    g.addoption("--bt-target-dir", default=None,
                help="audit on your own target: DIR/{train,test}/<class>/ images or DIR/{train,test}.beton")
    g.addoption("--bt-stencil", action="append", default=None,
                help="natural-bias intervention: tennis_ball, chain_link_fence, hat or an RGBA image file "
                     "(repeatable; default the three built-ins)")
    g.addoption("--bt-stencil-size", default=None, help="stencil side as a fraction of the image side (default 0.4)")
    g.addoption("--bt-stencil-corner", default=None,
                help="where the stencil goes: top-left, top-right, bottom-left, bottom-right (default) or center")
    x = parser.getgroup("bias-transfer executor", "where models are built (bias-transfer)")
    x.addoption("--bt-executor", default=os.environ.get("BT_EXECUTOR", "inline"),
                help="inline (in this process, the default), local (submitit processes on this machine, one GPU "
                     "each when --bt-gpus is set) or slurm (submitit job arrays); builds go out look by look")
    x.addoption("--bt-jobs", default=None, help="jobs each wave of builds is spread over (default 2)")
    x.addoption("--bt-gpus", default=None, help="local: GPUs to spread jobs over; slurm: GPUs per job (default 0)")
    x.addoption("--bt-max-resubmits", default=None, help="times a job that dies without a result is resubmitted (default 2)")
    x.addoption("--bt-job-logs", default=None, help="folder of the jobs' logs (default <output>/jobs)")
    x.addoption("--bt-slurm-partition", default=None, help="Slurm partition")
    x.addoption("--bt-slurm-time", default=None, help="Slurm time limit per job in minutes (default 60)")
    x.addoption("--bt-slurm-cpus", default=None, help="CPUs per Slurm job (default 2)")
    x.addoption("--bt-slurm-mem", default=None, help="memory per Slurm job in GB")
    x.addoption("--bt-slurm-sbatch", action="append", default=None,
                help="an extra sbatch flag as KEY=VALUE, e.g. account=mylab or qos=high (repeatable)")
    x.addoption("--bt-plan", action="store_true",
                help="print the models the selected checks need look by look, their device-hours and wall time "
                     "on --bt-devices; build and judge nothing")
    x.addoption("--bt-devices", default="1,8,64", help="device counts the plan's wall time is given for")
    x.addoption("--bt-plan-seeds", default="8", help="the plan's last look: seeds up to this many (default 8)")
    x.addoption("--bt-executor-config", default=None,
                help="a JSON file of executor settings (jobs, partition, time_min, gpus, cpus, mem_gb, sbatch); "
                     "options on the command line win")


def _invocation() -> list[str]:
    """The command as typed: pytest's own, or the benchmark CLI that runs pytest in-process."""
    prog = Path(sys.argv[0])
    via_cli = prog.name == "__main__.py" and prog.parent.name == "benchmark"
    return [*(["python", "-m", "benchmark"] if via_cli else ["pytest"]), *sys.argv[1:]]


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    given = getattr(config, "workerinput", {})
    try:
        config._bt_session = build_session(config.getoption, worker=given.get("workerid", "main"),
                                           run_id=given.get("bt_run_id", str(os.getpid())),
                                           command=_invocation())
    except BTError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not _is_worker(config):
        shutil.rmtree(config._bt_session.work_dir, ignore_errors=True)
        if (config.getoption("numprocesses", None) or 0) not in (0, 1):
            # Each worker builds its models on the scale's thread count (bt_core.train.pinned_threads),
            # so two workers oversubscribe the cores: idle OpenMP threads must sleep, not spin on the
            # core the other worker needs. Workers start after this hook and inherit the environment.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def bt(pytestconfig: pytest.Config):
    """The run's :class:`bt_core.session.Session`."""
    return pytestconfig._bt_session


@pytest.fixture
def check(bt, request: pytest.FixtureRequest):
    """Judge this case's per-seed measurement (see :meth:`bt_core.session.Session.check`) and fail
    the test with the reasons when the paper's claim does not hold, is undecided at the design's
    maximum, or drifts from its baseline.

    The reasons are the whole report: a traceback through this fixture adds nothing, and formatting
    one parses source files, which on CPython 3.11.7 (this suite's Python) can stop the whole run
    with "SystemError: AST constructor recursion depth mismatch" when another thread builds an AST
    at the same moment (CPython gh-106905, fixed in 3.11.8); seen once in the paper-smoke run."""
    case = case_name(str(request.node.fspath))

    def judge(**kw):
        if bt.capture is not None:       # the executor's driver is collecting what each check measures
            bt.capture.append(CheckSpec(check_key(case, request.node.name), kw["measure"],
                                        kw.get("expect", "greater"), kw.get("threshold", 0.0)))
            return None
        try:
            verdict = bt.check(case=case, claim=case, check=request.node.name, **kw)
        except NotBuiltError as exc:
            pytest.fail(str(exc), pytrace=False)
        if not verdict.passed:
            pytest.fail("; ".join(verdict.failures), pytrace=False)
        return verdict

    return judge


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = metafunc.config._bt_session
    scale = session.scale
    wanted = metafunc.config.getoption("--bt-target")
    if "target" in metafunc.fixturenames:
        metafunc.parametrize("target", [t for t in scale.targets if not wanted or t in wanted])
    if "mode" in metafunc.fixturenames:
        modes = metafunc.config.getoption("--bt-mode") or MODES
        metafunc.parametrize("mode", [m for m in MODES if m in modes])
    if "intervention" in metafunc.fixturenames:
        metafunc.parametrize("intervention", scale.interventions)
    if "fraction" in metafunc.fixturenames:
        metafunc.parametrize("fraction", scale.trigger_fractions, ids=[f"p{f}" for f in scale.trigger_fractions])
    if "arch" in metafunc.fixturenames:
        metafunc.parametrize("arch", scale.architectures)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config._bt_session.auditing:
        for item in items:
            if item.get_closest_marker("paper") and not item.get_closest_marker("audit"):
                item.add_marker(pytest.mark.skip(reason=AUDIT_SKIP))
    else:   # checks only an audit asks (marker audit without paper) are not run on the suite's own sources
        audit_only = [i for i in items if i.get_closest_marker("audit") and not i.get_closest_marker("paper")]
        if audit_only:
            config.hook.pytest_deselected(items=audit_only)
            dropped = set(audit_only)
            items[:] = [i for i in items if i not in dropped]
    keyword = config.getoption("keyword")
    if keyword and not items:
        raise pytest.UsageError(f"-k {keyword!r} matches no test. {known_names(config._bt_session)}")


def pytest_collection_finish(session: pytest.Session) -> None:
    """A process that runs cases reports its progress; without workers it also shows the display."""
    config = session.config
    cases = [item.nodeid for item in session.items if is_case(item.nodeid)]
    if not cases or config.getoption("--bt-progress") == "off" or config._bt_session.executor.kind != "inline":
        return
    report_progress(config._bt_session)
    if not _is_worker(config):
        _watch(config, cases)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    config = node.config
    cases = [i for i in ids if is_case(i)]
    if cases and config.getoption("--bt-progress") != "off" and not hasattr(config, "_bt_monitor"):
        _watch(config, cases)


def _watch(config: pytest.Config, cases: list[str]) -> None:
    config._bt_monitor = watch(config._bt_session, cases, config.getoption("--bt-progress"))
    config.pluginmanager.register(_Display(config._bt_monitor), "bt-display")


class _Display:
    """The run's display as a plugin of the controlling process: told when each case ends, and
    stopped before pytest prints its summary."""

    def __init__(self, monitor):
        self.monitor = monitor

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if is_case(report.nodeid) and (report.when == "call" or (report.when == "setup" and not report.passed)):
            self.monitor.item_done(key_of(report.nodeid), report.failed)

    def pytest_sessionfinish(self) -> None:
        self.monitor.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """With an executor, first collect what every selected check measures, build its models look by
    look, then let the ordinary loop judge them from the cache."""
    from _pytest.runner import runtestprotocol

    bt = session.config._bt_session
    cases = [item for item in session.items if is_case(item.nodeid)]
    planning = session.config.getoption("--bt-plan")
    if _is_worker(session.config) or not cases or session.config.option.collectonly:
        return None
    if bt.executor.kind == "inline" and not planning:
        return None
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = (lambda line: reporter.write_line(f"[bt {bt.executor.kind}] {line}")) if reporter else print
    bt.capture = []
    try:
        for item in cases:
            runtestprotocol(item, log=False, nextitem=None)
    finally:
        checks, bt.capture = bt.capture, None
    if planning:
        print_plan(bt, checks, *plan_options(session.config.getoption))
        return True
    drive_checks(bt, checks, say)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    outcome = yield
    exc = outcome.excinfo[1] if outcome.excinfo else None
    if isinstance(exc, MissingDataError) and not pyfuncitem.config.getoption("--bt-require-data"):
        outcome.force_exception(pytest.skip.Exception(str(exc), _use_item_location=True))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remember why pytest stopped before the end (-x, --maxfail, a stop request, a model the executor
    could not build: exit 3) for the report."""
    session.config._bt_stopped = session.shouldfail or session.shouldstop
    report = session.config._bt_session.drive_report
    if report is not None and report.failures and not _is_worker(session.config):
        session.config._bt_stopped = f"{len(report.failures)} models could not be built"
        session.exitstatus = 3


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _is_worker(config):
        return
    stopped = stop_reason(int(exitstatus), getattr(config, "_bt_stopped", False))
    for line in finish_report(config._bt_session, stopped):
        terminalreporter.write_line(line)
    shutil.rmtree(config._bt_session.work_dir, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: a worker writes into its controller's run folder (Session.work_dir)."""
    node.workerinput["bt_run_id"] = node.config._bt_session.run_id
