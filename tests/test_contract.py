"""The JSON API against its own OpenAPI document, fuzzed by schemathesis (bounded
examples, positive and negative): no 500s, every status and content type documented,
responses matching their schemas, invalid input rejected, Allow on 405."""

from __future__ import annotations

import pytest

from tests.conftest import is_ci

try:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode, checks
except ImportError as exc:  # pragma: no cover - the test extra installs it
    if is_ci():
        raise
    pytest.skip(f"schemathesis not installed: {exc}", allow_module_level=True)

MAX_EXAMPLES = 25  # per operation and generation mode

# A schema-valid institute or region name may simply not exist: a 400 is the right answer,
# so "positive data must be accepted" does not hold for this API.
EXCLUDED = [checks.positive_data_acceptance]


@pytest.fixture()
def api_schema(app):
    if app.extensions["policykb"].settings.backend != "embedded":
        pytest.skip("the contract is fuzzed once, on the embedded backend")
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            case.call_and_validate(excluded_checks=EXCLUDED)

        try:
            run()
        except Unsatisfiable:  # no parameter that can be made invalid (negative mode)
            assert mode == GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_unsupported_methods_get_405_with_allow(api_schema, client):
    """What schemathesis' unsupported-method phase checks, on every documented path."""
    import re

    for operation in (result.ok() for result in api_schema.get_all_operations()):
        path = re.sub(r"\{\w+\}", "x", operation.path)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = client.open(path, method=method)
            assert r.status_code == 405, (method, path, r.status_code)
            assert operation.method.upper() in r.headers["Allow"], (method, path)
            assert r.get_json()["error"]["code"] == "method_not_allowed"
            assert str(r.status_code) in operation.definition.raw["responses"]
