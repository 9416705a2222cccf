"""Exactly one kernel in a workspace: "Shuyu Python (desensitized)"."""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from kernels import forked_kernels

NAME = "shuyu"
DISPLAY_NAME = "Shuyu Python (desensitized)"
RESOURCES = Path(__file__).resolve().parent / "kernelspec" / NAME
EXTENSIONS = ["--IPKernelApp.extensions=sdk.magics"]  # %%sql in every kernel


class ShuyuKernelSpecManager(KernelSpecManager):
    """Offers only the desensitized kernel, whatever other kernelspecs are installed."""

    def find_kernel_specs(self) -> dict[str, str]:
        return {NAME: str(RESOURCES)}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name.lower() not in (NAME, "python3"):
            raise NoSuchKernel(kernel_name)
        metadata: dict = {"shuyu": {"data": "desensitized samples only"}}
        if forked_kernels.available():  # a server forked from the workspace zygote
            metadata["kernel_provisioner"] = {"provisioner_name": forked_kernels.NAME}
        return KernelSpec(
            argv=[
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                *EXTENSIONS,
            ],
            display_name=DISPLAY_NAME,
            language="python",
            resource_dir=str(RESOURCES),
            metadata=metadata,
        )

    def get_all_specs(self) -> dict:
        spec = self.get_kernel_spec(NAME)
        return {NAME: {"resource_dir": spec.resource_dir, "spec": spec.to_dict()}}
