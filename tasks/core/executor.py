"""Run a plan: each step in order, timed; on a failure, put everything back as it was, then say where it stands.

Assumptions: the executor knows no step by name (each step puts itself back and reports its own state: see
steps/__init__.py). A failure at any step puts back every step that ran, the failed one included, in the order
`put_back_order` gives (the order they ran, each after the steps its put-back relies on), unless the environment
says `on_failure: leave`; then nothing is put back and the output gives the commands that would. A put-back that
fails stops there (the later ones rely on it) and prints the exact commands that finish it by hand (where AWS
refused the credentials as expired, it is first tried once more on a new session, when the credential chain gives
other credentials: a rewritten credentials file, a refreshed web identity token); it never hides the first failure,
which stays the last line. Ctrl-C, SIGTERM and SIGHUP put nothing back: the operator (or CI) chose to stop, and ECS
carries on regardless; the output says what changed, what still runs and the commands that follow it or put it
back.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence

from .aws import expired_at
from .clock import duration
from .credentials import expired_context, known_lifetime
from .errors import DeployError, Interrupted, stop_status
from .plan import Plan
from .record import COMPLETE, INCOMPLETE, LEFT, NOT_ATTEMPTED, STOPPED, Journal
from .steps import Step, put_back_order
from .target import Target

LEAVE = "leave"


def execute(plan: Plan, target: Target) -> float:
    """Run every step; return the seconds it took. On failure, put back and re-raise (`DeployError` named
    after the step that failed first; any other exception as it is, after the put-back)."""
    clock, say, journal = target.clock, target.say, target.journal
    started = clock.monotonic()
    journal.plan = plan
    ran: list[Step] = []
    for step in plan.steps:
        say(f"==> {step.name}")
        step_started = clock.monotonic()
        entry = journal.begin(step.name, clock)
        ran.append(step)
        try:
            step.run(target)
        except KeyboardInterrupt as stop:
            journal.end(entry, "interrupted", clock)
            journal.put_back_outcome = NOT_ATTEMPTED
            how, code = stop_status(stop)
            _interrupted(plan, target, ran, how)
            raise Interrupted(f"stopped by {how} during {step.name}; see above for what changed and what still "
                              "runs in ECS", code) from None
        except Exception as err:
            failure = f"{step.name} failed: {_said(err, target, started)}" if isinstance(err, DeployError) else (
                f"{step.name} failed: unexpected {type(err).__name__}: {err}")
            say(f"==> {step.name} failed after {duration(clock.monotonic() - step_started)}")
            journal.end(entry, "failed", clock, failure.split(": ", 1)[1])
            recover(plan, target, ran, failure, started)
            if isinstance(err, DeployError):
                raise DeployError(failure) from err
            raise
        journal.end(entry, "done", clock)
        say(f"    {step.name} done in {duration(clock.monotonic() - step_started)}")
    return clock.monotonic() - started


def recover(plan: Plan, target: Target, ran: Sequence[Step], failure: str, started: float) -> None:
    """Put back what the steps in `ran` changed (or, with `on_failure: leave`, say how), then the state."""
    clock, say, env, journal = target.clock, target.say, target.env, target.journal
    if env.on_failure == LEAVE:
        journal.put_back_outcome = LEFT
        say(f"==> nothing is put back (on_failure: leave for {env.name}); state now:")
        _state(plan, target, ran)
        _commands(target, put_back_order(ran), "to put it back by hand, in this order:", plan.put_back_hint)
        return
    say(f"==> putting {env.name} back as it was")
    put_back_started = clock.monotonic()
    pending = put_back_order(ran)
    try:
        try:
            _put_back(target, pending)
        except DeployError as err:
            if not _on_fresh_credentials(target, err):
                raise
            _put_back(target, pending)  # once: the steps know what they already put back
    except KeyboardInterrupt as stop:
        journal.put_back_outcome = STOPPED
        _unreached(journal, pending)
        how, code = stop_status(stop)
        say(f"==> put-back stopped by {how}; state now:")
        _state(plan, target, ran)
        _commands(target, pending, "to finish putting it back by hand, in this order:", plan.put_back_hint)
        raise Interrupted(f"stopped by {how} while putting {env.name} back after: {failure}", code) from None
    except DeployError as err:
        said = _said(err, target, started)
        journal.put_back_step(pending[0].name, "failed", said)
        say(f"    could NOT put back {pending[0].name}: {said}")
    except Exception as err:  # a bug in a put-back: keep its traceback, and still say what to do
        traceback.print_exc()
        journal.put_back_step(pending[0].name, "failed", f"unexpected {type(err).__name__}: {err}")
        say(f"    could NOT put back {pending[0].name}: unexpected {type(err).__name__}: {err}")
    journal.put_back_outcome = INCOMPLETE if pending else COMPLETE
    _unreached(journal, pending[1:])
    took = duration(clock.monotonic() - put_back_started)
    if pending:
        say(f"==> put-back INCOMPLETE after {took}; state now:")
    else:
        say(f"==> put back in {took} ({duration(clock.monotonic() - started)} in all); state now:")
    _state(plan, target, ran)
    _commands(target, pending, "to finish putting it back by hand, in this order:", plan.put_back_hint)


def _put_back(target: Target, pending: list[Step]) -> None:
    """Put back each pending step in turn, popping it once done."""
    with target.writes.for_up_to(target.put_back_timeout):  # giving up early would leave production mixed
        while pending:
            pending[0].put_back(target)
            done = pending.pop(0)
            target.journal.put_back_step(done.name, "put back" if _changes(done) else "nothing to put back")


def _on_fresh_credentials(target: Target, err: DeployError) -> bool:
    """After AWS refused the credentials as expired: whether the put-back may go on, on a new session whose
    credential chain gave other credentials (said in one line); False, said too, when it cannot."""
    expired = expired_at(err)
    if expired is None:
        return False
    when = f"credentials expired at {expired.action} ({target.clock.now():%H:%M:%S} UTC)"
    try:
        fresh = target.reconnect()
    except DeployError as problem:
        target.say(f"    {when}; no fresh ones could be had: {problem}")
        return False
    if not fresh:
        target.say(f"    {when}; the credential chain gives the same ones again: nothing here can refresh them")
        return False
    target.say(f"    {when}; put-back on fresh credentials")
    return True


def _changes(step: Step) -> bool:
    """Whether the step has anything to put back (a migration, a request: nothing)."""
    return type(step).put_back is not Step.put_back


def _unreached(journal: Journal, pending: Sequence[Step]) -> None:
    for step in pending:
        journal.put_back_step(step.name, "not reached")


def _said(err: DeployError, target: Target, started: float) -> str:
    """The error, and for credentials that expired mid-run what expired, when, and how long the run had taken."""
    if not getattr(err, "expired", False):
        return str(err)
    return f"{err} ({expired_context(known_lifetime(), target.clock.monotonic() - started)})"


def _interrupted(plan: Plan, target: Target, ran: Sequence[Step], how: str) -> None:
    say = target.say
    say(f"==> stopped by {how} during {ran[-1].name}; nothing was put back. State now:")
    _state(plan, target, ran)
    say(f"  to follow what still runs: fab status --env {target.env.name}")
    _commands(target, put_back_order(ran), "to put it back by hand, in this order:", plan.put_back_hint)


def _state(plan: Plan, target: Target, ran: Sequence[Step]) -> None:
    for step in ran:
        try:
            lines = step.state(target)
        except DeployError as err:
            lines = [f"{step.name}: state not known ({err})"]
        for line in lines:
            target.say(f"  {line}")
    remaining = [step.name for step in plan.steps[len(ran):]]
    if remaining:
        target.say(f"  not started: {', '.join(remaining)}")


def _commands(target: Target, steps: Sequence[Step], heading: str, hint: str | None = None) -> None:
    commands = [command for step in steps for command in step.by_hand(target)]
    if commands:
        target.say(f"  {heading}")
        for command in commands:
            target.say(f"    {command}")
        if hint:
            target.say(f"  or, all at once: {hint}")
