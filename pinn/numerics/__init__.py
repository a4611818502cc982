"""Shared numerics: Taylor jets, networks, quadrature rules, safe expressions."""
