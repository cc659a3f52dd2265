"""What every client and service shares, once: settings, logs, the retry policy, the API error
base, send-once, circuit breakers, the shared rate budget and caches. Imports nothing of ours but
the domain."""
