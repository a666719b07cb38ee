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
# API pages written ahead of their modules (on other branches when written):
# once a module lands, drop its page from this list and add it to a toctree
# (docs/modules/layers.rst for layers, docs/index.rst for the others).
PENDING_API_PAGES = [
    "modules/layers/conv.rst",
    "modules/layers/local.rst",
    "modules/layers/corrmm.rst",
    "modules/layers/dnn.rst",
    "modules/layers/cuda_convnet.rst",
]
exclude_patterns = ["_build"] + PENDING_API_PAGES
html_theme = "alabaster"
nitpicky = False
