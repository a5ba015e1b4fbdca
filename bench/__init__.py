"""celgate's benchmark suite: ``python -m bench`` prints one table and writes JSON (docs/bench.md).

Each figure is measured for the current tree and, in the same run, for a baseline revision of
this repository (bench/BASELINE), with the bench code of the current tree driving both.
"""
