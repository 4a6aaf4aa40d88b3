"""Multi-solve studies over one scenario: compare, price, sweep, alternatives.
"""
