import subprocess

import pytest

from harness import KERNEL, ROOT


@pytest.fixture(scope="session", autouse=True)
def kernel_built():
    """Builds the kernel once per session (make is a no-op when it is current)."""
    subprocess.run(["make", "-s", "-C", str(ROOT)], check=True)
    assert KERNEL.exists()
