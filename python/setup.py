# The joule Python package: pure Python over libjoule.so (joule's C API) via
# ctypes, so it builds with the setuptools already installed and no network.
# There is deliberately no pyproject.toml: with one, pip would build in an
# isolated environment and download setuptools first, which fails offline.
from setuptools import setup

setup(
    name="joule",
    version="0.1.0",
    description="Energy and carbon of Python code and PyTorch training, from joule's C library",
    packages=["joule"],
    python_requires=">=3.8",
)
