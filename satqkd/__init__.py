"""satqkd: plan satellite quantum key distribution.

orbits -> passes -> link -> keyrate -> network -> report.
"""

__version__ = "0.1.0"
