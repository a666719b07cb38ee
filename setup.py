"""Lasagne on PyTensor: lightweight neural networks as raw symbolic graphs."""
import os
import re

from setuptools import find_packages, setup

here = os.path.abspath(os.path.dirname(__file__))


def read(*parts):
    with open(os.path.join(here, *parts), encoding="utf-8") as f:
        return f.read()


version = re.search(r'^__version__ = "([^"]+)"', read("lasagne", "__init__.py"), re.M).group(1)
install_requires = [line.strip() for line in read("requirements.txt").splitlines()
                    if line.strip() and not line.startswith("#")]

extras = {
    "test": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6",
             "jax>=0.4.30", "jaxlib>=0.4.30", "sphinx>=7", "numpydoc>=1.6"],
    "docs": ["sphinx>=7", "numpydoc>=1.6"],
    "examples": ["tqdm", "matplotlib"],
    "jax": ["jax>=0.4.30", "jaxlib>=0.4.30"],
}
extras["dev"] = sorted({req for reqs in extras.values() for req in reqs})

setup(
    name="Lasagne",
    version=version,
    description="A lightweight library to build and train neural networks on PyTensor",
    long_description=read("README.rst"),
    long_description_content_type="text/x-rst",
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    keywords="neural networks deep learning pytensor",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(exclude=["tests", "tests.*", "examples", "benchmarks"]),
    include_package_data=False,
    zip_safe=False,
    install_requires=install_requires,
    extras_require=extras,
)
