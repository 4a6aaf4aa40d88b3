"""A corpus of bad, hostile and faulty inputs for the command line (tests/test_hostile.py).

``cases.py`` holds the corpus (one :class:`~hostile.runner.Case` per input), ``runner.py`` runs a
case in a fresh temporary folder and judges it, ``census.py`` counts the classes over the whole
corpus against any checkout (``python3 tests/hostile/census.py --src PATH``).
"""
