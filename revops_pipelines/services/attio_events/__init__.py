"""Flow C: Attio webhook events acted on once (merges, deletions, deal wins, write-back)."""
