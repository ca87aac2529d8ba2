"""The command line: parses arguments, calls one function, renders the result. Thin.

Exit codes: 0 success; 1 the command ran and the answer is "no" (invalid config, task
failed, no daemon); 2 usage error (typer/click's own).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..adapters.lock import UNKNOWN, holder
from ..config import queueset
from ..config import settings as config
from ..config.models import schemas
from ..errors import ConfigError, OrchestrateError
from ..views.rows import journal_line, json_text, status_json
from ..views.snapshot import read_snapshot
from . import launch


def _plain_help(params: list[Any]) -> None:
    """Help that names no Python types: a flag shows no value, a repeatable option `TEXT`."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "multiple", False) and param.metavar is None:
            param.metavar = "TEXT"


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _plain_help(params)
        return params


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _plain_help(params)
        return params


app = typer.Typer(
    cls=_Group,
    name="orchestrate",
    help="Drive a crew of LLM coding agents in tmux from a YAML queue and a shared board.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _listed(values: list[str]) -> list[str]:
    """Repeated options and comma-separated ones alike: `--after A --after B`, `--after A,B`."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orchestrate {__version__}")
        raise typer.Exit()


class Context:
    def __init__(self, workspace: Path | None) -> None:
        self.workspace = workspace

    def root(self) -> Path:
        return config.find_root(self.workspace or Path.cwd())


@app.callback()
def main_options(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "-C", "--workspace", help="The workspace folder (default: found upwards from here)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logging.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(workspace)


def _root(ctx: typer.Context) -> Path:
    obj: Context = ctx.obj
    return obj.root()


# --------------------------------------------------------------------------- init / schema


@app.command(cls=_Command)
def init(
    folder: Annotated[Path, typer.Argument(help="The workspace folder (created if missing).")] = (
        Path(".")
    ),
    socket: Annotated[
        str | None,
        typer.Option(help="A tmux -L socket name for its session (default: your tmux server)."),
    ] = None,
) -> None:
    """Scaffold a workspace that runs as it is, with simulated agents."""
    from .scaffold import init as scaffold

    root = folder.resolve()
    try:
        written = scaffold(root, socket)
    except OrchestrateError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    for path in written:
        typer.echo(f"wrote {path.relative_to(root)}")
    on = f"-C {folder} " if root != Path.cwd() else ""
    typer.echo(f"next: orchestrate {on}check, then orchestrate {on}start")
    typer.echo("its two agents are simulated: edit orchestrate.yaml to point them at real CLIs")


@app.command(cls=_Command)
def schema(
    kind: Annotated[
        str, typer.Argument(help="queue (a queues/*.yaml file) or orchestrate (orchestrate.yaml).")
    ] = "queue",
) -> None:
    """Print the JSON Schema of a queue file or of orchestrate.yaml (for editors)."""
    found = schemas().get(kind)
    if found is None:
        raise typer.BadParameter("use queue or orchestrate", param_hint="KIND")
    typer.echo(json.dumps(found, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- check


@app.command(cls=_Command)
def check(ctx: typer.Context) -> None:
    """Validate orchestrate.yaml, every queue file and every playbook reference."""
    root = _root(ctx)
    settings, problems, tasks = queueset.inspect_workspace(root)
    for problem in problems:
        typer.echo(str(problem))
    if problems or settings is None:
        typer.echo(f"{len(problems)} problem(s)")  # on stdout with them, as linters do
        raise typer.Exit(1)
    files = config.queue_files(settings)
    agents = config.agents_for(settings, tasks)
    typer.echo(
        f"ok: {len(tasks)} task(s) in {len(files)} queue file(s), "
        f"{len(agents)} agent(s): {', '.join(a.name for a in agents) or 'none'}"
    )


# --------------------------------------------------------------------------- start / stop


@app.command(cls=_Command)
def start(
    ctx: typer.Context,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", "-d", help="Run the daemon away from this terminal (see --window)."
        ),
    ] = False,
    exit_when_done: Annotated[
        bool,
        typer.Option(
            "--exit-when-done",
            help="Exit once no task can make progress: 0 if all are done, 1 otherwise.",
        ),
    ] = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="Log lines instead of the live dashboard.")
    ] = False,
    window: Annotated[
        bool,
        typer.Option(
            "--window/--no-window",
            help="With --detach: run in a tmux window 'orchestrator' of the agents' session "
            "(default), or as a plain background process.",
        ),
    ] = True,
) -> None:
    """Create the session and missing agent windows, then run the daemon (here, or --detach)."""
    root = _root(ctx)
    # Fail early, with every FILE:LINE, on a broken orchestrate.yaml or queue file: at start
    # there is no last good version to keep.
    _, problems = queueset.check_workspace(root, board=False)
    if problems:
        raise ConfigError(problems)
    running = holder(root / ".orchestrate" / "daemon.lock")
    if running is not None:
        typer.echo(launch.already_runs(root, running), err=True)
        raise typer.Exit(1)
    if detach:
        ok, lines = launch.detach(root, exit_when_done, window)
        for line in lines:
            typer.echo(line, err=not ok)
        raise typer.Exit(0 if ok else 1)
    from ..views.dashboard import view_for  # rich: imported by the commands that draw with it

    raise typer.Exit(launch.run_daemon(root, view_for(plain), exit_when_done))


@app.command(cls=_Command)
def stop(ctx: typer.Context) -> None:
    """Stop the running daemon (agents keep running). Exit 1 if none runs."""
    root = _root(ctx)
    lock = root / ".orchestrate" / "daemon.lock"
    pid = _daemon_pid(root, lock)
    with suppress(ProcessLookupError):  # it ended meanwhile: the wait sees the lock free
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if holder(lock) is None:
            typer.echo(f"stopped the daemon (pid {pid})")
            return
        time.sleep(0.05)
    typer.echo(f"the daemon (pid {pid}) did not stop within 30 s", err=True)
    raise typer.Exit(1)


def _daemon_pid(root: Path, lock: Path) -> int:
    """The running daemon's pid; exit 1 if none runs. A daemon whose pid file went with its
    folder writes it again at its next tick: waited for, a few seconds."""
    deadline = time.monotonic() + 5
    while (pid := holder(lock)) == UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid is None:
        typer.echo(f"no daemon runs for {root}", err=True)
        raise typer.Exit(1)
    if pid == UNKNOWN:
        typer.echo(
            f"a daemon runs for {root}, but its pid file {lock} is gone and it has not written "
            f"it again: find it with `ps -ef | grep 'orchestrator -C {root}'` and `kill` it",
            err=True,
        )
        raise typer.Exit(1)
    return pid


# --------------------------------------------------------------------------- status / logs


@app.command(cls=_Command)
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Every task with agent, status, attempts, age/ETA, and the totals."""
    snap = read_snapshot(_root(ctx), time.time())
    if as_json:
        typer.echo(json_text(status_json(snap)))
        return
    from ..views.dashboard import print_status

    print_status(snap)
    if snap.running and not (_root(ctx) / ".orchestrate" / "state.db").exists():
        typer.echo(
            "daemon: running, but its state folder .orchestrate/ is missing: the daemon "
            "restores it within a second (until then, the tasks above are the queue files')"
        )
        return
    typer.echo(f"daemon: {'running' if snap.running else 'not running'}")


@app.command(cls=_Command)
def report(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("-o", "--output", help="The file to write ('-': print it).")
    ] = "ORCHESTRATOR_REPORT.md",
) -> None:
    """Write a markdown summary: each task's attempts and times, each agent's busy and idle time."""
    from ..adapters.store import Store
    from ..views.report import report as render_report

    root = _root(ctx)
    settings = config.load_settings(root)
    db = settings.state_dir / "state.db"
    if not db.exists():
        typer.echo(f"nothing to report in {root}: the daemon has not run yet", err=True)
        raise typer.Exit(1)
    store = Store(db, readonly=True)
    try:
        text = render_report(store.tasks(), store.events(), time.time(), settings.session)
    finally:
        store.close()
    if output == "-":
        typer.echo(text, nl=False)
        return
    path = Path(output) if Path(output).is_absolute() else root / output
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")


@app.command(cls=_Command)
def watch(
    ctx: typer.Context,
    plain: Annotated[
        bool, typer.Option("--plain", help="Event lines instead of the live dashboard.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between two reads.")] = 0.5,
) -> None:
    """Follow a daemon running elsewhere: its dashboard, read-only (Ctrl-C leaves)."""
    from ..views.dashboard import view_for

    launch.follow(_root(ctx), view_for(plain), interval)


@app.command(cls=_Command)
def logs(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new events.")] = (
        False
    ),
    task: Annotated[str | None, typer.Option("--task", help="Only this task's events.")] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Only the events about this agent.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    last: Annotated[int, typer.Option("-n", "--last", help="How many past events.")] = 200,
) -> None:
    """The event journal."""
    from ..adapters.store import Store
    from ..config.settings import refuse_link

    root = _root(ctx)
    db = refuse_link(root / ".orchestrate") / "state.db"
    if not db.exists():
        typer.echo(f"no journal yet in {root}: start the daemon once", err=True)
        raise typer.Exit(1)
    store = Store(db, readonly=True)
    after = 0
    try:
        events = store.events(task=task, limit=last, agent=agent)
        while True:
            for e in events:
                after = e.seq
                typer.echo(journal_line(e, as_json))
            if not follow:
                return
            time.sleep(0.3)
            events = store.events(after=after, task=task, agent=agent)
    except KeyboardInterrupt:
        return
    finally:
        store.close()


@app.command(cls=_Command)
def attach(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Argument(
            help=f"An agent's name, or {launch.DAEMON_WINDOW!r} for the daemon's window."
        ),
    ] = None,
) -> None:
    """Show an agent's window: switch to it inside tmux, or attach this terminal to it."""
    try:
        launch.show(_root(ctx), agent)
    except OrchestrateError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@app.command(cls=_Command)
def add(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Option("--id", help="A new task id, e.g. AUTO-005.")],
    agent: Annotated[str, typer.Option(help="The agent's name, or 'any'.")],
    prompt: Annotated[str | None, typer.Option(help="The work, in your words.")] = None,
    prompt_file: Annotated[
        Path | None, typer.Option(help="Read the prompt from this file ('-': stdin).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="A short title.")] = None,
    priority: Annotated[
        str | None, typer.Option(help="critical, blocking, high, medium or low.")
    ] = None,
    after: Annotated[
        list[str],
        typer.Option(help="A task that must be done first (repeat it, or A,B).", metavar="ID"),
    ] = [],  # noqa: B006
    phase: Annotated[int | None, typer.Option(help="Its phase (lower phases go first).")] = None,
    uses: Annotated[
        list[str], typer.Option(help="A playbook of the library (repeat it, or a,b).")
    ] = [],  # noqa: B006
    validate: Annotated[list[str], typer.Option(help="A command the work must pass.")] = [],  # noqa: B006
    report: Annotated[list[str], typer.Option(help="A field the report must carry.")] = [],  # noqa: B006
    estimate: Annotated[str | None, typer.Option(help="e.g. 30m; past it, overdue.")] = None,
    retries: Annotated[int | None, typer.Option(help="Re-dispatches after a failure.")] = None,
    queue: Annotated[
        Path | None,
        typer.Option(
            help="The queue file (a name in the queue folder, or a path; default: the last one)."
        ),
    ] = None,
) -> None:
    """Append a task to a queue file, keeping its comments; checked before it is written."""
    from .adding import add_task

    if (prompt is None) == (prompt_file is None):
        raise typer.BadParameter("give --prompt TEXT or --prompt-file FILE", param_hint="--prompt")
    if prompt_file is not None:
        text = sys.stdin.read() if str(prompt_file) == "-" else prompt_file.read_text("utf-8")
    else:
        text = prompt or ""
    given: dict[str, object] = {
        "id": task_id,
        "title": title,
        "agent": agent,
        "priority": priority,
        "phase": phase,
        "after": _listed(after) or None,
        "estimate": estimate,
        "uses": _listed(uses) or None,
        "prompt": text,
        "report": list(report) or None,
        "validate": list(validate) or None,
        "retries": retries,
    }
    item = {k: v for k, v in given.items() if v is not None}
    settings = config.load_settings(_root(ctx))
    try:
        file, task = add_task(settings, item, queue)
    except OrchestrateError as exc:
        typer.echo(f"not added: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"added {task.id} to {file}:{task.line}")


# --------------------------------------------------------------------------- control


def _control(root: Path, command: str, target: str) -> None:
    """Queue an operator's command for the daemon; print its answer (exit 1 on a refusal)."""
    ok, message = launch.send_command(root, command, target)
    typer.echo(message, err=not ok)
    if not ok:
        raise typer.Exit(1)


@app.command(cls=_Command)
def retry(
    ctx: typer.Context,
    task: Annotated[
        str, typer.Argument(help="The task id: a failed, blocked, cancelled or dispatched task.")
    ],
) -> None:
    """Put a failed or blocked task back in the queue (and the tasks that wait for it), or send
    a dispatched one again as a new attempt (stalled, its prompt lost)."""
    _control(_root(ctx), "retry", task)


@app.command(cls=_Command)
def cancel(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task id.")],
) -> None:
    """Cancel a task: it is never sent (again), and the tasks that wait for it are blocked."""
    _control(_root(ctx), "cancel", task)


@app.command(cls=_Command)
def dispatch(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task id: a queued task.")],
) -> None:
    """Send a queued task now if its agent is free, else before any other task."""
    _control(_root(ctx), "dispatch", task)


@app.command(cls=_Command)
def pause(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's name.")],
) -> None:
    """Give an agent no new task (the one it has goes on) until `resume`."""
    _control(_root(ctx), "pause", agent)


@app.command(cls=_Command)
def resume(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's name.")],
) -> None:
    """Let a paused agent take tasks again."""
    _control(_root(ctx), "resume", agent)


# --------------------------------------------------------------------------- demo / sim-agent


@app.command(cls=_Command)
def demo(
    delay: Annotated[
        float, typer.Option(help="Seconds each simulated agent works on a task.")
    ] = 6.0,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the workspace and tmux server afterwards.")
    ] = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="Log lines instead of the live dashboard.")
    ] = False,
) -> None:
    """Run both seed queues with simulated agents, on a private tmux socket. Needs no LLM."""
    from .demo import run_demo

    raise typer.Exit(run_demo(delay=delay, keep=keep, plain=plain or not sys.stdout.isatty()))


@app.command(
    "sim-agent",
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
def sim_agent(ctx: typer.Context) -> None:
    """A simulated coding agent for tmux (used by `demo` and the tests; see its --help)."""
    from ..sim.command import main as sim_main

    raise typer.Exit(sim_main(list(ctx.args)))


def main() -> None:
    try:
        app()
    except OrchestrateError as exc:
        typer.echo(f"orchestrate: {exc}", err=True)
        sys.exit(1)
