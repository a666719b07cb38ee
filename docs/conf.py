"""Sphinx configuration for Lasagne on PyTensor."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import lasagne  # noqa: E402

project = "Lasagne"
copyright = "Lasagne contributors"
version = release = lasagne.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
numpydoc_show_class_members = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
