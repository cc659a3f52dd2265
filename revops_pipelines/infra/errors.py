"""The one base of every outside API's error: what the retry policy, send-once and the circuit
breakers need to know about a failed call, whichever API it was."""

from __future__ import annotations

from revops_pipelines.domain.personal_data import mask_personal


class ApiError(Exception):
    """A failed call to an outside API.

    - `retryable`: sending the same request again is safe and may succeed (429, 5xx on a read,
      a request that never left). The retry policy retries exactly these.
    - `ambiguous`: the request may have been applied although no answer arrived; a
      non-idempotent write must look at the target before it is sent again (send-once).
    - `retry_after_seconds`: how long the API asked us to wait (a 429's `Retry-After`).
    - `outage`: the API looks unwell (no answer, 408 or 5xx): counts toward opening its breaker.
    - `status_code`: the HTTP status when the API answered, else None.
    - `attempts`, `waited_seconds`: what the retry policy spent before giving up.

    Subclasses set these per instance; the class values are the safe defaults (not retried, not
    ambiguous, not an outage).
    """

    retryable: bool = False
    ambiguous: bool = False
    retry_after_seconds: float | None = None
    outage: bool = False
    status_code: int | None = None
    attempts: int = 1
    waited_seconds: float = 0.0

    def describe(self) -> str:
        """The error's text, unmasked: an API's error class words its own here, never in
        `__str__`, so that its text is masked too."""
        return super().__str__()

    def __str__(self) -> str:
        # An API's validation message may quote the lead's email or phone; the text reaches the
        # run's event log, Dagster's console and alerts, so it is masked here, once for all APIs.
        return mask_personal(self.describe())
