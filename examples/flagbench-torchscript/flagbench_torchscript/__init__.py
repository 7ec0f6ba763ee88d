"""An example external flagbench vendor: TorchScript on the CPU."""

from flagbench_torchscript.vendor import TorchScriptSession, TorchScriptVendor

__all__ = ["TorchScriptSession", "TorchScriptVendor"]
