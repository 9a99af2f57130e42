"""Review and release (issue #12) in a real browser on the real stack (frontend/e2e/audit.mjs).

Screenshots: test-artifacts/browser/{signed,list-released,chain-verified}.png
"""

import pytest

from tests.browser.conftest import run_scenarios

pytestmark = pytest.mark.timeout(300)


async def test_a_reviewer_signs_another_approves_and_the_list_shows_released(browser_stack):
    """An operator's finished workflow that needs approval: rita signs it `reviewed` in the
    dialog (password again; focus back on Sign), downloads the record as JSON and as a PDF;
    abe signs it `approved`; the page and the list show `released`; an admin sees the
    history's hash chain verified above it."""
    output = await run_scenarios(browser_stack, "sign-and-release")
    assert "1 passed, 0 failed" in output
