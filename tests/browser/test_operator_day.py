"""The operator's day in the web app (issue #17), in a real browser on the real stack.

Scenarios in frontend/e2e/operator.mjs. Screenshots in test-artifacts/browser/:
inbox-completed, bulk-cancelled, lab-board-edited, screen-{inbox,lab}-{390,1366,1920}
and screen-inbox-dialog-390.
"""

import pytest

from tests.browser.conftest import run_scenarios

pytestmark = pytest.mark.timeout(900)


async def test_the_inbox_completes_a_manual_step_from_the_form_of_its_outputs_schema(
    browser_stack,
):
    """A manual step on bath-01 is listed with its instructions; a first Submit names the
    missing output and reason; completing it records the outputs, the reason and the
    operator; focus returns to the page."""
    output = await run_scenarios(browser_stack, "inbox")
    assert "1 passed, 0 failed" in output


async def test_list_filters_in_the_url_and_bulk_cancel_and_retry_with_one_reason(browser_stack):
    """Sort, instrument, submitter and date filters write the URL and read it back; two
    running workflows are cancelled and a failed one's task retried, each with one reason,
    each answer reported; actions the state forbids are not offered."""
    output = await run_scenarios(browser_stack, "bulk")
    assert "1 passed, 0 failed" in output


async def test_an_admin_edits_the_lab_board_with_a_reason(browser_stack):
    """Capacity and calibration date of bath-01 changed with a reason (in its history,
    by the admin); the past date shows red; an operator is offered no edit."""
    output = await run_scenarios(browser_stack, "lab-board")
    assert "1 passed, 0 failed" in output


async def test_inbox_and_lab_at_390_1366_and_1920_px_without_sideways_scroll_or_axe_violations(
    browser_stack,
):
    output = await run_scenarios(browser_stack, "inbox", "operator-screens", timeout=600)
    assert "2 passed, 0 failed" in output
