"""`nutx up`: node, pool and a CPU miner as child processes, with the dashboard or a progress log."""
