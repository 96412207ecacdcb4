"""The daemon: polls health, feeds the failover core, executes its decisions, serves HTTP."""
