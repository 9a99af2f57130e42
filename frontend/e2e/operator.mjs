// Browser scenarios of the operator's day (issue #17): the inbox completing a
// manual step from the form of its outputs_schema, the list's filters and bulk
// cancel/retry with one reason, the lab board edited by an admin with a reason,
// and the inbox, lab and system pages at 390, 1366 and 1920 px (no sideways scroll, no
// axe-core violation, a screenshot each).
import assert from "node:assert/strict";
import { axeClean, noSidewaysScroll } from "./cockpit.mjs";

const WIDTHS = [390, 1366, 1920];
const SCHEMA = {
  type: "object",
  required: ["vials"],
  properties: { vials: { type: "integer", minimum: 0, title: "Vials loaded" }, rack: { type: "string", title: "Rack" } },
};

async function submit(page, doc) {
  const response = await page.request.post("/api/workflows", { data: doc });
  assert.equal(response.status(), 201, await response.text());
  return (await response.json()).id;
}

async function workflow(page, id) {
  const response = await page.request.get(`/api/workflows/${id}`);
  assert.equal(response.status(), 200);
  return response.json();
}

async function until(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const focused = (page) => page.evaluate(() => `${document.activeElement?.tagName.toLowerCase()}:${document.activeElement?.textContent?.trim().slice(0, 40)}`);

export const scenarios = {
  /** A manual step on bath-01 with an outputs schema: listed in the inbox, completed from its form. */
  async inbox({ page, browser, state, log }) {
    const id = await submit(page, {
      name: `e2e inbox ${state.run}`,
      labels: { suite: "browser" },
      tasks: [
        { name: "load-rack", executor: "manual", instrument: "bath-01", params: { instructions: "Load the 12 vials into rack B of the dissolution bath", outputs_schema: SCHEMA } },
        { name: "report", executor: "noop", depends_on: ["load-rack"] },
      ],
    });
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.goto("/#/inbox");
    const card = page.locator(`[data-workflow="${id}"][data-inbox-task="load-rack"]`);
    await card.waitFor({ timeout: 20000 });
    await card.getByText("Load the 12 vials into rack B").waitFor();
    await card.getByText(/^Outputs asked for: (rack, vials|vials, rack)$/).waitFor();
    await card.getByRole("button", { name: `Complete load-rack of e2e inbox ${state.run}` }).click();
    const dialog = page.getByRole("dialog", { name: "Complete task load-rack" });
    // a first Submit without the required output and reason says what is missing
    await dialog.getByRole("button", { name: "Complete task" }).click();
    await dialog.getByText("A reason is required.").waitFor();
    await dialog.getByText("vials: is required").waitFor();
    await axeClean(page, "the inbox with the Complete dialog open");
    await dialog.getByLabel(/Vials loaded/).fill("12");
    await dialog.getByLabel(/^Rack/).fill("B");
    await dialog.getByLabel(/^Reason/).fill("rack B loaded and checked");
    await dialog.getByRole("button", { name: "Complete task" }).click();
    await dialog.getByText("Accepted: task load-rack is now succeeded.").waitFor();
    await browser.shot(page, "inbox-completed");
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "detached" });
    // its card is gone, so focus goes to the page's heading, not to the body
    await card.waitFor({ state: "detached" });
    await until("focus on the page's heading after the dialog", async () => (await focused(page)) === "h1:Inbox", 5000);
    const done = await until("the workflow to succeed", async () => {
      const w = await workflow(page, id);
      return w.status === "succeeded" ? w : null;
    });
    const step = done.tasks.find((t) => t.name === "load-rack");
    assert.deepEqual(step.outputs, { vials: 12, rack: "B" });
    const history = await (await page.request.get(`/api/workflows/${id}/history`)).json();
    assert.ok(history.some((h) => h.task_name === "load-rack" && h.to_status === "succeeded" && h.reason === "rack B loaded and checked" && h.actor === "user:olga"), "the reason and the operator are in the history");
    log("load-rack completed from the inbox with {vials: 12, rack: B}; the workflow succeeded");
  },

  /** Filters in the URL, then bulk cancel of two running workflows and bulk retry of a failed one. */
  async bulk({ page, browser, state, log }) {
    const suite = `bulk-${state.run}`;
    const manual = (n) => ({ name: `e2e bulk ${n} ${state.run}`, labels: { suite }, tasks: [{ name: "hold", executor: "manual", params: { instructions: "wait" } }] });
    const a = await submit(page, manual("a"));
    const b = await submit(page, manual("b"));
    const failing = await submit(page, {
      name: `e2e bulk c ${state.run}`,
      labels: { suite },
      tasks: [{ name: "check-ph", executor: "local", instrument: "compute-01", retry: { max_attempts: 1 }, params: { command: ["sh", "-c", "exit 3"] } }],
    });
    await until("c to fail", async () => (await workflow(page, failing)).status === "failed");
    await until("a and b to run", async () => (await workflow(page, a)).status === "running" && (await workflow(page, b)).status === "running");
    await page.setViewportSize({ width: 1366, height: 900 });

    // the filters, written into the URL and read back from it
    await page.goto(`/#/workflows?label=suite%3D${suite}`);
    const rows = page.locator("tbody tr");
    await until("three rows", async () => (await rows.count()) === 3);
    await page.getByLabel("Sort").selectOption("name");
    await page.waitForFunction(() => location.hash.includes("sort=name"));
    assert.deepEqual(await rows.locator("a.strong").allTextContents(), ["a", "b", "c"].map((n) => `e2e bulk ${n} ${state.run}`));
    await page.getByLabel("Instrument").selectOption("compute-01");
    await page.waitForFunction(() => location.hash.includes("instrument=compute-01"));
    await until("only c", async () => (await rows.count()) === 1);
    await page.getByText(/apply to the 3 workflows loaded/).waitFor();
    await page.getByLabel("Instrument").selectOption("");
    await page.getByLabel("Submitter").selectOption("user:olga");
    const today = await page.evaluate(() => { const d = new Date(); const p = (n) => String(n).padStart(2, "0"); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`; });
    await page.getByLabel("Created from").fill(today);
    await page.waitForFunction(() => location.hash.includes("from=") && location.hash.includes("submitter=user"));
    await until("three rows again", async () => (await rows.count()) === 3);
    // the URL alone brings the same view back
    const url = await page.evaluate(() => location.hash);
    await page.goto("/#/workflows");
    await page.goto(`/${url}`);
    await until("three rows from the URL", async () => (await rows.count()) === 3);
    assert.equal(await page.getByLabel("Sort").inputValue(), "name");
    assert.equal(await page.getByLabel("Submitter").inputValue(), "user:olga");
    log(`filters in the URL: ${decodeURIComponent(url)}`);

    // cancel: the failed one is left alone; each answer is reported
    await page.getByRole("checkbox", { name: "Select all shown" }).check();
    assert.equal(await page.getByRole("button", { name: "Retry failed…" }).isEnabled(), true);
    await page.getByRole("button", { name: "Cancel selected…" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel 2 workflows" });
    await dialog.getByText("1 selected workflow already finished and is left alone.").waitFor();
    await dialog.getByLabel(/^Reason/).fill("wrong batch of reagent");
    await dialog.getByRole("button", { name: "Cancel 2 workflows" }).click();
    await dialog.getByText("2 of 2 done.").waitFor();
    assert.equal(await dialog.locator('[data-bulk-result="ok"]').count(), 2);
    await axeClean(page, "the list with the bulk results");
    await browser.shot(page, "bulk-cancelled");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    for (const id of [a, b]) assert.equal((await workflow(page, id)).status, "cancelled");
    const history = await (await page.request.get(`/api/workflows/${a}/history`)).json();
    assert.ok(history.some((h) => h.to_status === "cancelled" && h.reason === "wrong batch of reagent"));
    log("cancelled a and b with one reason; c (failed) left alone");

    // retry: only the failed workflow qualifies
    const row = page.locator("tr", { has: page.getByRole("link", { name: `e2e bulk c ${state.run}` }) });
    await row.locator("[data-status=failed]").first().waitFor();
    await page.getByRole("checkbox", { name: `Select e2e bulk c ${state.run}` }).check();
    assert.equal(await page.getByRole("button", { name: "Cancel selected…" }).isEnabled(), false, "a failed workflow cannot be cancelled");
    const opener = page.getByRole("button", { name: "Retry failed…" });
    await opener.click();
    const retry = page.getByRole("dialog", { name: "Retry the failed tasks of 1 workflow" });
    await retry.getByLabel(/^Reason/).fill("pH meter recalibrated");
    await retry.getByRole("button", { name: "Retry the failed tasks of 1 workflow" }).click();
    await retry.getByText("1 of 1 done.").waitFor();
    await retry.getByText(/retried 1 of 1 failed task \(check-ph\); now running/).waitFor();
    await retry.getByRole("button", { name: "Close" }).click();
    await retry.waitFor({ state: "detached" });
    await until("focus on the page after the dialog", async () => !(await focused(page)).startsWith("body:"), 5000);
    const attempts = await until("the retried attempt", async () => {
      const t = (await workflow(page, failing)).tasks.find((x) => x.name === "check-ph");
      return t.attempt >= 2 ? t.attempt : null;
    });
    log(`retried c's failed task (attempt ${attempts} now)`);
  },

  /** An admin changes an instrument's capacity and calibration date with a reason. */
  async "lab-board"({ page, browser, users, log }) {
    try {
      await browser.logIn(page, ...users.admin);
      await page.setViewportSize({ width: 1366, height: 900 });
      await page.goto("/#/lab");
      const card = page.locator('[data-instrument="bath-01"]');
      await card.waitFor();
      await card.locator(".usage").waitFor();
      const edit = card.getByRole("button", { name: /^Edit Dissolution bath/ });
      await edit.click();
      const dialog = page.getByRole("dialog", { name: /^Edit Dissolution bath/ });
      await dialog.getByLabel(/^Capacity/).fill("2");
      await dialog.getByLabel("Calibration due").fill("2020-01-31");
      await dialog.getByRole("button", { name: "Save" }).click();
      await dialog.getByText("A reason is required.").waitFor();
      await dialog.getByLabel(/^Reason/).fill("second vessel fitted; calibration lapsed");
      await dialog.getByRole("button", { name: "Save" }).click();
      await dialog.getByText(/^Saved: .* is online, 2 slots, calibration due 2020-01-31\.$/).waitFor();
      await axeClean(page, "the lab with the edit dialog open");
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      await until("focus back on Edit", async () => (await focused(page)).startsWith("button:Edit"));
      const due = card.locator("[data-calibration]");
      await until("the date overdue", async () => (await due.getAttribute("data-calibration")) === "overdue");
      assert.match(await due.textContent(), /Calibration due 2020-01-31 \(overdue by \d+ days\)/);
      assert.equal(await due.evaluate((el) => getComputedStyle(el).color), "rgb(198, 40, 40)", "an overdue date is red");
      await card.getByText("bath-01 · dissolution_bath · 2 slots").waitFor();
      const changes = await (await page.request.get("/api/instruments/bath-01/history")).json();
      const last = changes.at(-1);
      assert.deepEqual(last.change, { capacity: [1, 2], calibration_due: [null, "2020-01-31"] });
      assert.equal(last.reason, "second vessel fitted; calibration lapsed");
      assert.equal(last.actor, "user:ada");
      await browser.shot(page, "lab-board-edited");
      log("bath-01: capacity 1 → 2, calibration due 2020-01-31 (red, overdue), the reason in its history");
    } finally {
      await browser.logIn(page, ...users.operator);
    }
    // an operator is offered no edit
    await page.goto("/#/lab");
    await page.locator('[data-instrument="bath-01"]').waitFor();
    assert.equal(await page.getByRole("button", { name: /^Edit / }).count(), 0, "only an admin edits instruments");
  },

  /** The inbox, the lab and the system page at 390, 1366 and 1920 px: no sideways scroll, no axe-core violation, a screenshot each. */
  async "operator-screens"({ page, browser, state, log }) {
    const id = await submit(page, {
      name: `e2e screens inbox ${state.run}`,
      tasks: [{ name: "sign-off-the-batch-record-after-checking-every-label", executor: "manual", params: { instructions: "Check every label against the batch record, then sign off.", outputs_schema: SCHEMA } }],
    });
    const pages = [
      ["inbox", "/#/inbox", async () => page.locator(`[data-workflow="${id}"]`).waitFor({ timeout: 20000 })],
      ["lab", "/#/lab", async () => {
        await page.locator("[data-runner]").first().waitFor();
        await page.locator(".usage").first().waitFor();
      }],
      // the stack tells the API of its workers' probes, as `make run` does: all four ready
      ["system", "/#/system", async () => {
        for (const service of ["api", "listener", "coordinator", "runner"])
          await page.locator(`[data-service="${service}"] [data-ready="true"]`).waitFor({ timeout: 20000 });
        await page.locator("[data-outbox-backlog]").waitFor();
      }],
    ];
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const [name, url, ready] of pages) {
        await page.goto(url);
        await ready();
        await page.waitForTimeout(150);
        await noSidewaysScroll(page, `${name} at ${width} px`);
        await axeClean(page, `${name} at ${width} px`);
        await browser.shot(page, `screen-${name}-${width}`);
      }
      log(`${width} px: inbox, lab and system without sideways scroll or axe-core violations`);
    }
    // the Complete dialog at 390 px fits and passes too
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/#/inbox");
    await page.locator(`[data-workflow="${id}"]`).getByRole("button", { name: /^Complete/ }).click();
    await page.getByRole("dialog").getByLabel(/Vials loaded/).waitFor();
    await noSidewaysScroll(page, "the Complete dialog at 390 px");
    await axeClean(page, "the Complete dialog at 390 px");
    await browser.shot(page, "screen-inbox-dialog-390");
    await page.keyboard.press("Escape");
    await page.setViewportSize({ width: 1280, height: 900 });
  },
};
