"""Exactly one kernel in a workspace: "Shuyu Python (desensitized)"."""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

NAME = "shuyu"
DISPLAY_NAME = "Shuyu Python (desensitized)"
RESOURCES = Path(__file__).resolve().parent / "kernelspec" / NAME


class ShuyuKernelSpecManager(KernelSpecManager):
    """Offers only the desensitized kernel, whatever other kernelspecs are installed."""

    def find_kernel_specs(self) -> dict[str, str]:
        return {NAME: str(RESOURCES)}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name.lower() not in (NAME, "python3"):
            raise NoSuchKernel(kernel_name)
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=DISPLAY_NAME,
            language="python",
            resource_dir=str(RESOURCES),
            metadata={"shuyu": {"data": "desensitized samples only"}},
        )

    def get_all_specs(self) -> dict:
        spec = self.get_kernel_spec(NAME)
        return {NAME: {"resource_dir": spec.resource_dir, "spec": spec.to_dict()}}
