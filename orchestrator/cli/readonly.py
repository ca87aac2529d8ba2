"""The commands that only read a workspace: `check` (its files validated), `status` (when
the quick path of quick.py cannot answer it), `logs` (the event journal) and `report` (a
markdown summary of what the store recorded: the one file any of them writes). None of them
changes the state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from ..config import queueset
from ..config import settings as config
from ..views.rows import journal_line, json_text, status_json
from ..views.snapshot import read_snapshot


class NotYet(Exception):
    """What the command reads is not there yet: the daemon has not run (exit 1)."""


def check(root: Path) -> tuple[bool, list[str]]:
    """`check`: whether orchestrate.yaml, the queue files and the playbook references are
    valid, and the lines to print (each problem and their count, or what was found)."""
    settings, problems, tasks = queueset.inspect_workspace(root)
    lines = [str(problem) for problem in problems]
    if problems or settings is None:
        return False, [*lines, f"{len(problems)} problem(s)"]  # on stdout with them, as linters do
    files = config.queue_files(settings)
    agents = config.agents_for(settings, tasks)
    return True, [
        f"ok: {len(tasks)} task(s) in {len(files)} queue file(s), "
        f"{len(agents)} agent(s): {', '.join(a.name for a in agents) or 'none'}"
    ]


def status(root: Path, as_json: bool) -> str:
    """`status`: the JSON object; or the table, printed (by the dashboard), and the line to
    print after it, saying whether the daemon runs."""
    snap = read_snapshot(root, time.time())
    if as_json:
        return json_text(status_json(snap))
    from ..views.dashboard import print_status

    print_status(snap)
    if snap.running and not (root / ".orchestrate" / "state.db").exists():
        return (
            "daemon: running, but its state folder .orchestrate/ is missing: the daemon "
            "restores it within a second (until then, the tasks above are the queue files')"
        )
    return f"daemon: {'running' if snap.running else 'not running'}"


def report(root: Path, output: str) -> str:
    """`report`: its text when `output` is '-', else the line saying where it was written
    (`output`, relative to the workspace unless absolute). NotYet before the daemon ran."""
    from ..adapters.store import Store
    from ..views.report import report as render_report

    settings = config.load_settings(root)
    db = settings.state_dir / "state.db"
    if not db.exists():
        raise NotYet(f"nothing to report in {root}: the daemon has not run yet")
    store = Store(db, readonly=True)
    try:
        text = render_report(store.tasks(), store.events(), time.time(), settings.session)
    finally:
        store.close()
    if output == "-":
        return text
    path = Path(output) if Path(output).is_absolute() else root / output
    path.write_text(text, encoding="utf-8")
    return f"wrote {path}"


def journal(
    root: Path, task: str | None, agent: str | None, last: int, follow: bool, as_json: bool
) -> Iterator[str]:
    """`logs`: the journal's last `last` lines (only `task`'s, or `agent`'s), then with
    `follow` each new one as it comes, until Ctrl-C. NotYet before the daemon ran."""
    from ..adapters.store import Store
    from ..config.settings import refuse_link

    db = refuse_link(root / ".orchestrate") / "state.db"
    if not db.exists():
        raise NotYet(f"no journal yet in {root}: start the daemon once")
    store = Store(db, readonly=True)
    after = 0
    try:
        events = store.events(task=task, limit=last, agent=agent)
        while True:
            for e in events:
                after = e.seq
                yield journal_line(e, as_json)
            if not follow:
                return
            time.sleep(0.3)
            events = store.events(after=after, task=task, agent=agent)
    finally:
        store.close()
