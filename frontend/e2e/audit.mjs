// Issue #12 in the browser: a reviewer signs a finished workflow, someone else
// approves it, the list shows it released; the record downloads; an admin sees
// the history's hash chain verified.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

/** A finished workflow that needs an approval, submitted through the API as the operator. */
async function finishedWorkflow(page, name) {
  const made = await page.request.post("/api/workflows", {
    data: { name, requires_approval: true, tasks: [{ name: "assay", executor: "noop", params: { outputs: { assay_percent: 99.6, pass: true } } }] },
  });
  assert.equal(made.status(), 201, await made.text());
  const id = (await made.json()).id;
  const deadline = Date.now() + 30000;
  for (;;) {
    const status = (await (await page.request.get(`/api/workflows/${id}`)).json()).status;
    if (status === "succeeded") return id;
    assert.ok(Date.now() < deadline, `the workflow did not finish in time (${status})`);
    await page.waitForTimeout(200);
  }
}

/** Sign on the workflow page, as whoever is logged in; the dialog closes and focus is back on Sign. */
async function signAs(page, id, meaning, password) {
  await page.goto(`/#/workflows/${id}`);
  const panel = page.getByRole("region", { name: "Review and release" });
  await panel.getByRole("button", { name: "Sign", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: /^Sign / });
  await dialog.getByRole("radio", { name: new RegExp(`^${meaning[0].toUpperCase()}${meaning.slice(1)}:`) }).check();
  await dialog.getByLabel("Your password").fill(password);
  await dialog.getByRole("button", { name: `Sign as ${meaning}` }).click();
  await dialog.waitFor({ state: "detached" });
  await page.waitForFunction(() => document.activeElement?.textContent === "Sign");
  await panel.getByText(new RegExp(`^Signed: ${meaning} by `)).waitFor();
  return panel;
}

export const scenarios = {
  async "sign-and-release"({ page, browser, state, users, log }) {
    const name = `e2e release ${state.run}`;
    const id = await finishedWorkflow(page, name);
    try {
      await browser.logIn(page, ...users.reviewer);
      let panel = await signAs(page, id, "reviewed", users.reviewer[1]);
      await panel.locator("[data-signature=reviewed]").getByText("Rita Reviewer").waitFor();
      await panel.locator("[data-release='awaiting approval']").waitFor();
      log("rita reviewed; awaiting approval");

      // the record, fetched with the session's header and saved as a file
      const [download] = await Promise.all([page.waitForEvent("download"), panel.getByRole("button", { name: "Record (JSON)" }).click()]);
      assert.equal(download.suggestedFilename(), `laf-record-${id}.json`);
      const record = JSON.parse(await readFile(await download.path(), "utf8"));
      assert.equal(record.signatures.length, 1, "the record carries the review");
      const [pdf] = await Promise.all([page.waitForEvent("download"), panel.getByRole("button", { name: "Batch record (PDF)" }).click()]);
      assert.equal(pdf.suggestedFilename(), `laf-record-${id}.pdf`);
      assert.equal((await readFile(await pdf.path())).subarray(0, 5).toString(), "%PDF-");
      log("record (JSON) and batch record (PDF) downloaded");

      await browser.logIn(page, ...users.approver);
      panel = await signAs(page, id, "approved", users.approver[1]);
      await panel.locator("[data-signature=approved]").getByText("Abe Approver").waitFor();
      await page.locator(".page-head [data-release=released]").waitFor();
      await browser.shot(page, "signed");
      await page.goto("/#/workflows");
      const row = page.locator("tr", { has: page.getByRole("link", { name }) });
      await row.locator(".badge[data-release=released]").waitFor();
      await browser.shot(page, "list-released");
      log("abe approved; the list shows released");

      await browser.logIn(page, ...users.admin);
      await page.goto(`/#/workflows/${id}`);
      const banner = page.locator("[data-chain-check=verified]");
      await banner.waitFor();
      assert.match(await banner.textContent(), /^✓ Chain verified \(\d+ rows?\)$/);
      await page.locator('table.history tr.signature-row[data-chain="verified"]').first().waitFor();
      await browser.shot(page, "chain-verified");
      log(`admin: ${await banner.textContent()}`);
    } finally {
      await browser.logIn(page, ...users.operator);
    }
  },
};
