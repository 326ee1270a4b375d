"""dbt without its start-up cost: a resident process that has imported dbt forks a child per call.

Every dbt call is a new process, and before its first model dbt spends about two seconds
importing itself (it builds serialisers for hundreds of classes at import). A pipeline run
calls dbt three or four times, so at a small shop that start-up is most of what dbt costs.
`foresight-dbt` takes the place of the `dbt` executable: it hands its arguments, environment,
working directory and standard streams to the resident server, which forks a child that
already holds dbt's imports and runs the command exactly as `dbt` would, writing straight to
the caller's streams. The caller's exit status is the command's.

- The server starts on the first call (that call waits for its imports, as `dbt` would) and
  exits after `IDLE_SECONDS` without a call. Its socket is keyed by the Python environment,
  the dbt and DuckDB versions and this package's code, so an upgrade never runs old code.
- A child dies with its caller: killed, the caller closes the connection and the child kills
  itself; SIGINT and SIGTERM sent to the caller are passed on (dbt stops as it would).
- `FORESIGHT_WARM_DBT=0`, or a server that cannot start, runs the plain `dbt` instead.
- The child is not the caller's child, so the caller's resource usage leaves it out: with
  `FORESIGHT_DBT_PEAK_LOG` set, the caller appends the child's peak resident memory (KiB, a
  line per call) to that file (the benchmarks add it to what they measure).

`client.py` is the caller's side (`foresight-dbt`), `server.py` the server's.
"""
