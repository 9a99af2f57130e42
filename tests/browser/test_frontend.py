"""The pages in a real browser, on the real stack (scenarios in frontend/e2e/scenarios.mjs).

Screenshots: test-artifacts/browser/{builder-cycle,builder,workflow,workflow-chart,
list,cancel-dialog,cancel,lab}.png
"""

import pytest

from tests.browser.conftest import run_scenarios

pytestmark = pytest.mark.timeout(300)


async def test_build_in_the_form_refuse_a_cycle_submit_watch_it_turn_green_open_the_chart(
    browser_stack,
):
    """A 3-task workflow built in the form; a cycle is shown before sending and nothing is
    sent; submitted, every node of the graph turns green live (no reload, SSE live); the
    chromatogram of a result has labelled peaks; then the list finds it by name and status."""
    output = await run_scenarios(browser_stack, "build-and-watch", "list")
    assert "2 passed, 0 failed" in output


async def test_cancel_a_running_workflow_with_a_reason(browser_stack):
    """A running `sleep 30` step is cancelled from the workflow page: the dialog asks for a
    reason, shows the server's answer, and the graph and the history follow."""
    output = await run_scenarios(browser_stack, "cancel")
    assert "1 passed, 0 failed" in output


async def test_lab_view_shows_instruments_their_task_and_queue_live(browser_stack):
    """Two workflows compete for balance-01: the lab view shows one on it and one queued,
    then the second on it, then idle, without a reload."""
    output = await run_scenarios(browser_stack, "lab")
    assert "1 passed, 0 failed" in output


async def test_an_operator_and_a_viewer_log_in_and_see_only_what_their_role_allows(browser_stack):
    """Both log in through the form (the session in an HttpOnly cookie): the viewer reads a
    workflow but is offered no submit and no operator action (the API answers 403 naming
    the role anyway); the operator is offered them; logging out ends the session."""
    output = await run_scenarios(browser_stack, "viewer-and-operator")
    assert "1 passed, 0 failed" in output
