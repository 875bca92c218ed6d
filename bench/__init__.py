"""The benchmark harness: `python -m bench` (or `make bench`).

Real broker processes, real HTTP on 127.0.0.1, load generated from this
process with aiohttp. Every figure is paired with a baseline measured in the
same run, because the machines it runs on are noisy: a target is a ratio to
(or a distance from) that baseline, never an absolute number.

Layout:

- :mod:`bench.harness`: child processes, ports, peak RSS, percentiles, a
  throw-away PostgreSQL database;
- :mod:`bench.council`: a council built through the public API (the SDK);
- :mod:`bench.load`: the HTTP load generator and the stream subscribers;
- :mod:`bench.baselines`: the bare aiohttp servers the figures are compared to;
- :mod:`bench.seed`: direct bulk seeding of stored items for the read scenario;
- :mod:`bench.scenarios`: one module per scenario;
- :mod:`bench.report`: the result type, the table and the JSON files.

Benchmarks are never timed tests: nothing here runs under pytest.
"""
