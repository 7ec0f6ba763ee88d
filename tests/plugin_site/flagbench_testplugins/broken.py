"""A vendor whose import fails, as a plugin with a missing dependency would."""

import flagbench_missing_dependency  # noqa: F401


class BrokenVendor:
    name = "broken-import"
