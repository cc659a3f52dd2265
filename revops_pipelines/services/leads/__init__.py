"""Flow B: one inbound lead through Attio, routing and its follow-up effects."""
