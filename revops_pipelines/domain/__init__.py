"""Pure logic: no Dagster, no I/O."""
