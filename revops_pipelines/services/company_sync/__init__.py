"""Flow A: Salesforce accounts planned, written to Attio and recorded."""
