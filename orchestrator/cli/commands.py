"""The command line: parses arguments, calls one function, renders the result. Thin.

Exit codes: 0 success; 1 the command ran and the answer is "no" (invalid config, task
failed, no daemon); 2 usage error (typer/click's own).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..config import settings as config
from ..config.models import schemas
from ..errors import OrchestrateError
from . import control, launch, readonly


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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orchestrate {__version__}")
        raise typer.Exit()


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
    ctx.obj = workspace


def _root(ctx: typer.Context) -> Path:
    """The workspace: -C's folder, else found upwards from here (only when a command asks)."""
    workspace: Path | None = ctx.obj
    return config.find_root(workspace or Path.cwd())


def _said(ok: bool, said: str | list[str]) -> None:
    """What a command says: on stdout, or on stderr and exit 1 when it did not do it."""
    for line in [said] if isinstance(said, str) else said:
        typer.echo(line, err=not ok)
    if not ok:
        raise typer.Exit(1)


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
    from .scaffold import create

    _said(*create(folder, socket))


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
    ok, lines = readonly.check(_root(ctx))
    for line in lines:
        typer.echo(line)
    if not ok:
        raise typer.Exit(1)


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
    code, lines = launch.start(_root(ctx), detach, exit_when_done, window, plain)
    for line in lines:
        typer.echo(line, err=code != 0)
    raise typer.Exit(code)


@app.command(cls=_Command)
def stop(ctx: typer.Context) -> None:
    """Stop the running daemon (agents keep running). Exit 1 if none runs."""
    _said(*control.stop(_root(ctx)))


# --------------------------------------------------------------------------- status / logs


@app.command(cls=_Command)
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Every task with agent, status, attempts, age/ETA, and the totals."""
    typer.echo(readonly.status(_root(ctx), as_json))


@app.command(cls=_Command)
def report(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("-o", "--output", help="The file to write ('-': print it).")
    ] = "ORCHESTRATOR_REPORT.md",
) -> None:
    """Write a markdown summary: each task's attempts and times, each agent's busy and idle time."""
    try:
        said = readonly.report(_root(ctx), output)
    except readonly.NotYet as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(said, nl=output != "-")  # the report itself ends with its newline


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
    root = _root(ctx)
    try:
        for line in readonly.journal(root, task, agent, last, follow, as_json):
            typer.echo(line)
    except readonly.NotYet as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        return


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
    from . import adding

    if (prompt is None) == (prompt_file is None):
        raise typer.BadParameter("give --prompt TEXT or --prompt-file FILE", param_hint="--prompt")
    text = adding.read_prompt(prompt, prompt_file)
    _said(
        *adding.add(
            _root(ctx), queue, task_id=task_id, agent=agent, prompt=text, title=title,
            priority=priority, after=after, phase=phase, uses=uses, validate=validate,
            report=report, estimate=estimate, retries=retries,
        )
    )  # fmt: skip


# --------------------------------------------------------------------------- control


@app.command(cls=_Command)
def retry(
    ctx: typer.Context,
    task: Annotated[
        str, typer.Argument(help="The task id: a failed, blocked, cancelled or dispatched task.")
    ],
) -> None:
    """Put a failed or blocked task back in the queue (and the tasks that wait for it), or send
    a dispatched one again as a new attempt (stalled, its prompt lost)."""
    _said(*control.send_command(_root(ctx), "retry", task))


@app.command(cls=_Command)
def cancel(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task id.")],
) -> None:
    """Cancel a task: it is never sent (again), and the tasks that wait for it are blocked."""
    _said(*control.send_command(_root(ctx), "cancel", task))


@app.command(cls=_Command)
def dispatch(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task id: a queued task.")],
) -> None:
    """Send a queued task now if its agent is free, else before any other task."""
    _said(*control.send_command(_root(ctx), "dispatch", task))


@app.command(cls=_Command)
def pause(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's name.")],
) -> None:
    """Give an agent no new task (the one it has goes on) until `resume`."""
    _said(*control.send_command(_root(ctx), "pause", agent))


@app.command(cls=_Command)
def resume(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's name.")],
) -> None:
    """Let a paused agent take tasks again."""
    _said(*control.send_command(_root(ctx), "resume", agent))


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
