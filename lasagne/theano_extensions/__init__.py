"""Theano-era helpers kept for old imports: ``conv1d_*`` and ``pad``."""
