"""The flow engine: node types and their registry, run plans, the DAG executor, cache keys.

Nothing here touches the database: ``services/runs.py`` and ``services/run_worker.py``
store runs, claim them from the queue and record what the executor reports.
"""
