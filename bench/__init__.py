"""Side-by-side benchmarks: cokg against its peers on the same data and the same requests.

Run ``python -m bench --help`` (from the repository root); see ``bench/README.md``.
"""
