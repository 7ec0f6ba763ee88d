"""`flagbench list` and `flagbench env`: installed plugins, and what this host can run."""

from __future__ import annotations

import click


@click.command(name="list")
@click.argument("what", type=click.Choice(["all", "vendors", "cases"]), default="all")
def list_plugins(what: str) -> int:
    """List installed vendors and cases, including broken plugins and why."""
    from flagbench.api.plugins import Registry
    from flagbench.cli import console

    registry = Registry.discover()
    out = console.console()
    if what in ("all", "vendors"):
        out.print(console.plugins_table(list(registry.vendors.values()), "vendors"))
    if what in ("all", "cases"):
        out.print(console.plugins_table(list(registry.cases.values()), "cases"))
    return 0


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def env(as_json: bool) -> int:
    """Show this host's fingerprint and whether each vendor can run here, and why not."""
    import json

    from flagbench.api.plugins import Registry
    from flagbench.cli import console
    from flagbench.run.environment import host_facts

    probes = Registry.discover().probe_all()
    out = console.console()
    if as_json:
        click.echo(json.dumps({"host": host_facts(), "vendors": probes}, indent=2, default=str))
        return 0
    out.print(console.facts_table(host_facts(), "host"))
    out.print(console.probes_table(probes, "vendors"))
    return 0


