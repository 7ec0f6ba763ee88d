"""The command line: parse, validate, call the layers below, print. It holds no logic of its own.

Heavy modules (torch, SQLAlchemy, rich) are imported inside the commands that need them,
so ``flagbench --help`` and ``flagbench list`` start quickly. One module per command group.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from flagbench.api.errors import FlagbenchError
from flagbench.api.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE
from flagbench.api.version import __version__
from flagbench.cli import plugins_command, results_command, run_command, spool_command
from flagbench.cli.options import check_arguments
from flagbench.cli.output import print_error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flagbench")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """flagbench: run standard AI cases on many vendors, store the results, compare them."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _command in (run_command.run, plugins_command.list_plugins, plugins_command.env,
                 results_command.report, results_command.history, results_command.show,
                 spool_command.spool, results_command.compare, results_command.export):
    cli.add_command(_command)


def os_error_line(exc: OSError) -> str:
    """What the system refused, in one line ("File name too long: /data/…"): no errno, no
    quoting; the paths are those the user gave or flagbench derived from them."""
    what = exc.strerror or str(exc) or type(exc).__name__
    paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{what}: {' -> '.join(paths)}" if paths else what


def main() -> None:
    """Entry point: a FlagbenchError or usage error becomes one line and exit code 2.

    So does an OSError that gets this far: the system refusing a path or a directory (a name
    too long, no permission, not a directory, a full disk) is the user's to fix. Any other
    exception is a bug and keeps its traceback.
    """
    try:
        check_arguments(sys.argv[1:])
        code = cli.main(standalone_mode=False)
    except FlagbenchError as exc:
        print_error(str(exc))
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        logging.getLogger(__name__).debug("refused by the system", exc_info=True)  # -vv: where
        print_error(os_error_line(exc))
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        print_error(exc.format_message())
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        print_error(exc.format_message())
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        print_error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)
