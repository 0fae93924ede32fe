"""Explanations and comparisons built on a pipeline result: ``inspect --proxy`` (``inspect.py``), ``inspect
--policy`` (``policyview.py``), which policies made a cluster (``contributors.py``), ``diff`` and ``render -o
table``. They ask the families through :class:`kumahc.policies.contract.PolicyFamily` and never branch on a kind.
"""
