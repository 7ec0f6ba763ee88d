"""`flagbench spool`: runs a database could not take, listed or written now."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from flagbench.api.errors import FlagbenchError
from flagbench.api.exit_codes import EXIT_SPOOLED
from flagbench.cli.options import DB_HELP
from flagbench.cli.output import print_error

if TYPE_CHECKING:
    from flagbench.store.spool import SpoolEntry


@click.command()
@click.option("--replay", is_flag=True,
              help="Write the spooled runs to the database and remove them from the spool.")
@click.option("--db", default=None, help=DB_HELP)
@click.option("--all", "all_targets", is_flag=True,
              help="With --replay: also write runs that were spooled for another database.")
def spool(replay: bool, db: str | None, all_targets: bool) -> int:
    """List the runs that could not be written to a database, or write them now (--replay).

    Replay writes the runs spooled for the database it is given and keeps the others, so a
    host that spooled for two databases does not mix them (--all writes them all there).
    Replaying is idempotent: a run already in the database (same uid) is not written twice.
    """
    from flagbench.cli import console
    from flagbench.store import spool as spool_
    from flagbench.store.redaction import redact, safe_label, secrets_in

    entries = spool_.entries()  # files that fail the check are quarantined here
    quarantined = [e for e in entries if e.quarantined]
    entries = [e for e in entries if not e.quarantined]
    # A spool file written by an older flagbench, or edited by hand, may name its database
    # with a secret in it: nothing from a file is shown unredacted.
    # (Secrets too short to replace safely are left to the patterns redact knows.)
    secrets = {x for e in entries for x in secrets_in(e.target) if len(x) >= 4}
    out = console.console()

    def show(text: str) -> None:
        out.print(redact(text, secrets), markup=False)

    if not replay:
        if db is not None or all_targets:
            raise FlagbenchError(f"{'--db' if db is not None else '--all'} applies to "
                                 "--replay only")
        show(f"{len(entries)} run(s) in the spool {spool_.spool_dir()}")
        for e in entries:
            what = e.record.label if e.record else e.path.name
            show(f"  {e.spooled_at} {what} → {safe_label(e.target)}: {e.error}")
        _report_quarantined(quarantined, show)
        return 0
    from flagbench.store import Store
    from flagbench.store.replay import replay as replay_entries

    store = Store.open(db, create=True)
    left = elsewhere = 0
    for r in replay_entries(store, entries, all_targets):
        name = r.entry.record.label if r.entry.record else r.entry.path.name
        if r.run_id is None:
            left += not r.elsewhere
            elsewhere += r.elsewhere
            show(f"  kept {name}: {r.kept_because}")
        else:
            show(f"  wrote {name} as run {r.run_id}")
    store.close()
    written = len(entries) - left - elsewhere
    out.print(f"{written} run(s) written to {store.label}, {left + elsewhere} left in the spool"
              + (f" ({elsewhere} for other databases)" if elsewhere else ""), markup=False)
    _report_quarantined(quarantined, show)
    if left:
        print_error(f"{left} spooled run(s) could not be written to {store.label}")
        return EXIT_SPOOLED
    return 0


def _report_quarantined(quarantined: list[SpoolEntry], show: Callable[[str], None]) -> None:
    """Each file moved out of the spool, with why; a warning line, as nothing was lost."""
    for e in quarantined:
        show(f"  {e.error}")
    if quarantined:
        click.echo(f"warning: {len(quarantined)} spool file(s) failed the check and were "
                   f"moved to {quarantined[0].path.parent}, each with a .reason file", err=True)
