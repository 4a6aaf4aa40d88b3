"""The optimisation: the landscape graph, the constraint-family registry, the Pyomo formulation,
the HiGHS adapter and the infeasibility diagnosis.
"""
