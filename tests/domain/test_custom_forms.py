"""forms.yaml: a bad mapping is refused with the file and the line; a delivery is read through its
form's mapping, and one missing the mapped email is refused with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.config.loader import DEFAULT_DIR
from revops_pipelines.domain.custom_forms import FormsConfig, parse_custom_delivery
from revops_pipelines.domain.submissions import SubmissionParseError

FORMS = load_model(config_path("forms.yaml"), FormsConfig)
RECEIVED = datetime(2026, 12, 3, 12, tzinfo=UTC)
PAYLOAD = {
    "first_name": "grace",
    "last_name": "hopper",
    "email": "Grace@Navy.example",
    "company": "Navy",
    "message": "Hello",
    "phone": "+44 20 7946 0958",
    "consent": {"marketing": True},
    "submitted_at": "2026-12-01T10:00:00Z",
}


def _parse(payload: dict, event_id: str = "contact_us:msg_1"):  # type: ignore[no-untyped-def,type-arg]
    return parse_custom_delivery(
        FORMS, event_id, json.dumps(payload).encode(), raw_ref="r", received_at=RECEIVED
    )


def test_a_delivery_is_read_through_its_mapping() -> None:
    submission = _parse(PAYLOAD)
    assert (submission.source, submission.event_id) == ("contact_us", "msg_1")
    assert submission.source_form == "contact_us (Website contact form)"
    assert (submission.email, submission.name, submission.company) == (
        "Grace@Navy.example",
        "grace hopper",
        "Navy",
    )
    assert submission.message == "Hello"
    assert submission.answers == {"phone": "+44 20 7946 0958", "consent": True}
    assert submission.submitted_at == datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "event_id", "reason"),
    [
        ({**PAYLOAD, "email": ""}, "contact_us:m", "no email at the mapped field 'email'"),
        ({k: v for k, v in PAYLOAD.items() if k != "email"}, "contact_us:m", "no email"),
        (PAYLOAD, "retired_form:m", "'retired_form' is no longer in forms.yaml"),
    ],
)
def test_what_cannot_be_a_lead_is_refused_with_the_reason(payload, event_id, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SubmissionParseError, match=reason):
        _parse(payload, event_id)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("forms:\n  typeform:\n    secret_env: X\n    fields: {email: e}\n", "forms", "reserved"),
        (
            "forms:\n  a:\n    secret_env: X\n    fields: {name: n}\n",
            "forms.a.fields.email",
            "Field required",
        ),
        (
            "forms:\n  a:\n    secret_env: X\n    fields:\n      email: e\n      name: n\n      first_name: f\n",
            "forms.a.fields",
            "not both",
        ),
        (
            "forms:\n  a:\n    secret_env: lower\n    fields: {email: e}\n",
            "forms.a.secret_env",
            "pattern",
        ),
        (
            "forms:\n  a:\n    secret_env: X\n    fields: {email: 'a..b'}\n",
            "forms.a.fields.email",
            "pattern",
        ),
    ],
)
def test_a_bad_forms_file_names_the_line_and_the_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = tmp_path / "forms.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_model(path, FormsConfig)
    assert f"{path}:" in str(caught.value) and key in str(caught.value)
    assert message in str(caught.value)
    assert all(line is not None for line, _, _ in caught.value.problems)


def test_dg_check_defs_fails_on_a_bad_form_mapping_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    forms = config / "forms.yaml"
    text = forms.read_text().replace("      email: email\n", "      e_mail: email\n")
    forms.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "e_mail:" in row)
    env = {**os.environ, "REVOPS_CONFIG_DIR": str(config), "VIRTUAL_ENV": sys.prefix}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=Path(__file__).parent.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert f"{forms}:{line - 1}: forms.contact_us.fields.email: Field required" in output
    assert f"{forms}:{line}: forms.contact_us.fields.e_mail: Extra inputs" in output
