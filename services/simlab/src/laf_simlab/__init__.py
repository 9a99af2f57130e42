"""laf_simlab: a simulated QC lab that speaks LAF's instrument protocol (see laf_runner.executors.http)."""
