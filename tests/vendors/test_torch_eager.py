"""The torch vendors' probes: what the host really offers, not what torch would emulate."""

from __future__ import annotations

import pytest

from flagbench.vendors import cpu_peak
from flagbench.vendors.torch_eager import CpuVendor

AVX512_ONLY = "flags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512vl\n"


@pytest.mark.parametrize(("cpuinfo", "bf16"), [
    (AVX512_ONLY, False),  # oneDNN emulates bf16 here; torch's own check says yes
    ("flags\t\t: avx2 fma avx512f avx512_bf16\n", True),  # Cooper Lake, Zen 4
    ("flags\t\t: avx2 fma avx512f amx_bf16 amx_tile\n", True),  # Sapphire Rapids
    ("Features\t: fp asimd bf16 i8mm\n", True),  # Arm v8.6
    (None, False),  # no /proc/cpuinfo: cannot tell, so not offered
])
def test_cpu_offers_bf16_only_where_it_is_native(monkeypatch: pytest.MonkeyPatch,
                                                 cpuinfo: str | None, bf16: bool) -> None:
    monkeypatch.setattr(cpu_peak, "host_cpuinfo", lambda: cpuinfo)
    probe = CpuVendor().probe()
    assert probe.available
    assert ("bf16" in probe.precisions) is bf16
    if not bf16:
        assert ("no native bf16" if cpuinfo else "cannot tell") in probe.unsupported["bf16"]


def test_this_hosts_flags_decide() -> None:
    info = cpu_peak.host_cpuinfo()
    native = info is not None and bool(cpu_peak.cpu_flags(info) & set(cpu_peak.NATIVE_BF16_FLAGS))
    assert ("bf16" in CpuVendor().probe().precisions) is native
