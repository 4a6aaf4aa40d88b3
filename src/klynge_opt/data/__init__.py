"""Inputs: the data contract, reading, validation, the typed data set, travel times, generated and
benchmark data, scenarios and what they change in the data.
"""
