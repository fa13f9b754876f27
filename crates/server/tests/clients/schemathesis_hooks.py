"""Schemathesis hooks for tests/clients.rs: every request is made as one admin's session (a session, not a
token: tokens may not make tokens), so writes are authorised. The hook, not schemathesis's own auth, adds
the session, because a fuzzer that logged in or out with its cookie (which ends the session the request
carries) or disabled or limited its own account would lock itself out and test nothing but 401s after."""

import os

import schemathesis

ACCOUNT = os.environ["GEOCONSOLE_FUZZ_ACCOUNT"]
SESSION = os.environ["GEOCONSOLE_FUZZ_SESSION"]
CSRF = os.environ["GEOCONSOLE_FUZZ_CSRF"]


@schemathesis.hook
def before_call(context, case, kwargs):
    # The account's name is learnt from GET /users; changes go to another (missing) account instead.
    if (case.path_parameters or {}).get("userName") == ACCOUNT:
        case.path_parameters["userName"] = ACCOUNT + "-other"
    # Made-up credentials would be refused with 401 before the request reached what it tests.
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-csrf-token")}
    cookies = {k: v for k, v in (case.cookies or {}).items() if k != "gc_session"}
    if case.path not in ("/auth/login", "/auth/logout"):
        cookies["gc_session"] = SESSION
        headers["X-CSRF-Token"] = CSRF
    case.headers = headers
    case.cookies = cookies
