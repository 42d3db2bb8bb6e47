"""The smoke check's probe on its own, against `responses`: a redirect is the answer, no answer says why in one
line, header values name environment variables and a value no header can carry is refused unseen."""

from __future__ import annotations

import pytest
import responses
from conftest import SMOKE_TOKEN, SMOKE_URL, smoke_config

from tasks.core.config import Environment, SmokeSettings, load_settings
from tasks.core.errors import DeployError
from tasks.core.smoke import Probe


# --- the request on its own -----------------------------------------------------------------------------
def probe(**smoke) -> Probe:
    return Probe.prepare(load_settings(smoke_config(**smoke)).environment("staging"), {"SMOKE_TOKEN": SMOKE_TOKEN})


@responses.activate
def test_a_redirect_is_the_answer_and_names_where_it_points():
    responses.get(SMOKE_URL, status=302, headers={"Location": "https://login.example.com/?next=/health"})
    assert str(probe().ask()) == "302 Found (Location: https://login.example.com/?next=/health)"
    assert len(responses.calls) == 1  # not followed


@responses.activate
def test_no_answer_says_why_in_one_line():
    import requests

    responses.get(SMOKE_URL, body=requests.ConnectionError("Failed to establish a new connection: [Errno 111] refused"))
    assert str(probe().ask()) == ("no answer (ConnectionError: Failed to establish a new connection: [Errno 111] "
                                  "refused)")


@pytest.mark.parametrize(("environ", "problem"), [
    ({"SMOKE_TOKEN": "  "}, "needs the environment variable SMOKE_TOKEN, which is empty"),
    ({"SMOKE_TOKEN": f"{SMOKE_TOKEN}\r\nX-Injected: 1"}, "would hold a line break, a control character or a non-ASCII "
                                                   "character, which no HTTP header can carry"),
])
def test_a_variable_no_header_can_carry_is_refused_without_its_value(environ, problem):
    env = Environment("staging", "acme-app", None, "c", ("web",), "latest", 60, 5, None, "staging",
                      smoke=SmokeSettings(SMOKE_URL, headers={"Authorization": "Bearer ${SMOKE_TOKEN}"}))
    with pytest.raises(DeployError) as caught:
        Probe.prepare(env, environ)
    assert problem in str(caught.value) and SMOKE_TOKEN not in str(caught.value)
    assert repr(env.smoke.headers) == "{'Authorization': 'Bearer ${SMOKE_TOKEN}'}"  # what the config holds


def test_header_values_name_variables_and_a_malformed_reference_is_refused():
    headers = {"Authorization": "${SCHEME} ${SMOKE_TOKEN}", "X-Cost": "$5", "X-Twice": "${SCHEME}"}
    smoke = load_settings(smoke_config(headers=headers)).environment("staging").smoke
    assert smoke.variables == ("SCHEME", "SMOKE_TOKEN")
    for bad in ("Bearer ${SMOKE_TOKEN", "Bearer ${1SMOKE_TOKEN}", "Bearer ${}"):
        with pytest.raises(DeployError) as caught:
            load_settings(smoke_config(headers={"Authorization": bad}))
        assert str(caught.value) == ("deploy.environments.staging.smoke.headers.Authorization holds a malformed "
                                     "${...}: write ${NAME} for the value of the environment variable NAME (letters, "
                                     "digits and '_', not starting with a digit)")
    with pytest.raises(DeployError) as caught:
        load_settings(smoke_config(url=f"{SMOKE_URL}?token=${{SMOKE_TOKEN}}"))
    assert str(caught.value) == ("deploy.environments.staging.smoke.url holds a ${...}: only header values read "
                                 "environment variables (the URL is printed); send a token in a header")
