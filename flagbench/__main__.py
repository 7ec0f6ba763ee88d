"""``python -m flagbench``."""

import os
import sys

# ``python -m`` puts the working directory first on sys.path, and plugin discovery scans
# sys.path for distributions: a ``*.dist-info`` in whatever directory the user stands in
# would be imported as a plugin (by ``flagbench list`` too). The installed console script
# does not do this; neither does ``python -P`` (safe_path). flagbench itself is imported
# already, so nothing of it needs that entry.
if not getattr(sys.flags, "safe_path", False) and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from flagbench.cli.main import main  # noqa: E402 - after the path is made safe

main()
