"""Outputs: the output contract, results built from a solved model, and the independent checker.
"""
