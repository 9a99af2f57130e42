// The browser scenarios of issue #6, in the order run.mjs runs them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// The final task states, from the API's own document (as the app's generated lists are).
const OPENAPI = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8"));
const FINAL_TASK_STATUSES = OPENAPI.components.schemas.FinalTaskStatus.enum;

/** A chromatogram shaped as docs/outputs.md says: baseline noise and two Gaussian peaks. */
export function chromatogram() {
  const t_min = [];
  const mau = [];
  let seed = 7;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.6;
  for (let i = 0; i <= 1200; i++) {
    const t = i / 120; // 10 min at 2 points per second
    t_min.push(Number(t.toFixed(4)));
    const y = 1.5 + noise() + 412 * Math.exp(-((t - 4.21) ** 2) / (2 * 0.045 ** 2)) + 6.5 * Math.exp(-((t - 6.02) ** 2) / (2 * 0.05 ** 2));
    mau.push(Number(y.toFixed(3)));
  }
  return {
    chromatogram: { t_min, mau },
    peaks: [
      { name: "paracetamol", retention_min: 4.21, area: 15234.6, height: 412.0, width_min: 0.106, tailing: 1.08, plates: 9150 },
      { name: "4-aminophenol", retention_min: 6.02, area: 26.3, height: 6.5, width_min: 0.118, tailing: 1.15, plates: 9420 },
    ],
    run_time_min: 10,
    wavelength_nm: 254,
  };
}

async function schemaLoaded(page) {
  await page.locator("[data-validity]").first().waitFor();
  await page.waitForFunction(() => document.querySelector("[data-validity]")?.getAttribute("data-validity") !== "loading");
}

const taskBox = (page, index) => page.locator(`fieldset[data-task-index="${index}"]`);

async function nodeStatuses(page) {
  return page.$$eval("g.dag-node", (nodes) => Object.fromEntries(nodes.map((n) => [n.getAttribute("data-task"), n.getAttribute("data-status")])));
}

export const scenarios = {
  /** Build a 3-task workflow in the form, see a cycle refused before sending, submit, watch it go green. */
  async "build-and-watch"({ page, browser, state, log }) {
    const posts = [];
    page.on("request", (r) => {
      if (r.method() === "POST" && new URL(r.url()).pathname === "/api/workflows") posts.push(r.url());
    });
    await page.goto("/#/new");
    await schemaLoaded(page);
    state.name = `e2e chromatography ${state.run}`;
    await page.getByLabel("Workflow name").fill(state.name);
    await page.getByLabel("Labels (key=value, one a line)").fill(`batch=E2E-${state.run}\nsuite=browser`);

    await taskBox(page, 0).getByLabel("Name").fill("hplc");
    await taskBox(page, 0).getByLabel("Params (JSON object)").fill(JSON.stringify({ outputs: chromatogram() }));
    await page.getByRole("button", { name: "+ Add task" }).click();
    await taskBox(page, 1).getByLabel("Name").fill("integrate");
    await taskBox(page, 1).getByLabel("Executor").selectOption("python");
    await taskBox(page, 1).getByLabel("Params (JSON object)").fill(JSON.stringify({ function: "laf_runner.library:sleep", seconds: 2 }));
    await page.getByRole("button", { name: "+ Add task" }).click();
    await taskBox(page, 2).getByLabel("Name").fill("report");
    await taskBox(page, 2).getByLabel("Params (JSON object)").fill(JSON.stringify({ outputs: { assay_percent: 99.6, limits: [95, 105], pass: true } }));
    // the new tasks depend on the one before them
    assert.equal(await taskBox(page, 1).getByRole("checkbox", { name: "hplc" }).isChecked(), true);
    assert.equal(await taskBox(page, 2).getByRole("checkbox", { name: "integrate" }).isChecked(), true);

    // a cycle: hplc depends on report
    await taskBox(page, 0).getByRole("checkbox", { name: "report" }).check();
    const deps = taskBox(page, 0).getByRole("group", { name: "Depends on" });
    await deps.getByText("cycle: hplc → report → integrate → hplc").waitFor();
    assert.equal(await deps.getAttribute("aria-invalid"), "true");
    await browser.shot(page, "builder-cycle");
    await page.getByRole("button", { name: "Submit workflow" }).click();
    await page.locator(".error-summary").getByText(/problems? to fix before sending/).waitFor();
    assert.equal(posts.length, 0, "a workflow with a cycle must not be sent");
    log("cycle shown next to the dependencies; nothing sent");

    await taskBox(page, 0).getByRole("checkbox", { name: "report" }).uncheck();
    await page.locator("[data-validity=valid]").waitFor();
    await browser.shot(page, "builder");
    await page.getByRole("button", { name: "Submit workflow" }).click();
    await page.waitForURL(/#\/workflows\/[0-9a-f-]{36}$/);
    state.workflowId = page.url().split("/").pop();
    assert.equal(posts.length, 1);
    log(`submitted ${state.workflowId}`);

    // watch every node turn green, without reloading the page
    await page.evaluate(() => (window.__lafNoReload = true));
    await page.locator("g.dag-node").nth(2).waitFor();
    const seen = new Set();
    const deadline = Date.now() + 30000;
    let statuses;
    for (;;) {
      statuses = await nodeStatuses(page);
      for (const [n, s] of Object.entries(statuses)) seen.add(`${n}:${s}`);
      if (Object.values(statuses).every((s) => s === "succeeded")) break;
      assert.ok(Date.now() < deadline, `not all green in time: ${JSON.stringify(statuses)}`);
      await page.waitForTimeout(50);
    }
    assert.deepEqual(Object.keys(statuses).sort(), ["hplc", "integrate", "report"]);
    assert.ok([...seen].some((s) => /^(integrate|report):(pending|queued|running)$/.test(s)), `never saw a node before it turned green: ${[...seen]}`);
    assert.equal(await page.evaluate(() => window.__lafNoReload), true, "the page reloaded");
    await page.locator("[data-workflow-status=succeeded]").waitFor();
    // the re-read that follows the events: progress, timeline and history catch up
    await page.locator("dl.facts").getByText("3/3 finished").waitFor();
    await page.locator('table.history tr:has(em:text-is("workflow")) [data-status=succeeded]').waitFor();
    assert.equal(await page.locator("[data-live]").first().getAttribute("data-live"), "live", "the event stream is not live");
    log(`seen ${[...seen].join(", ")}`);
    await browser.shot(page, "workflow");

    // open the chart of a result: keyboard on the graph node
    await page.getByRole("button", { name: /^task hplc: succeeded/ }).focus();
    await page.keyboard.press("Enter");
    const chart = page.getByRole("img", { name: /^Chromatogram at 254 nm: 2 peaks \(paracetamol, 4-aminophenol\)/ });
    await chart.waitFor();
    await chart.locator("[data-peak=paracetamol]").waitFor();
    assert.match(await chart.locator("[data-peak=paracetamol] text").textContent(), /paracetamol 4\.21/);
    await page.locator("[data-task-detail=hplc]").scrollIntoViewIfNeeded();
    await browser.shot(page, "workflow-chart");
    await page.getByRole("button", { name: /^task report: succeeded/ }).click();
    await page.locator("[data-task-detail=report] [data-chart=scalars]").getByText("assay_percent").waitFor();
    log("chromatogram with labelled peaks, and the scalars of the report");
  },

  /** The list: live status, search by name, filter by status. */
  async list({ page, browser, state }) {
    assert.ok(state.name, "runs after build-and-watch");
    await page.goto("/#/workflows");
    const row = page.locator("tr", { has: page.getByRole("link", { name: state.name }) });
    await row.locator("[data-status=succeeded]").waitFor();
    await page.getByLabel("Search by name").fill(state.run);
    await page.waitForFunction(() => location.hash.includes("q="));
    await row.waitFor();
    assert.equal(await page.locator("tbody tr").count(), 1);
    await page.getByLabel("Status").selectOption("failed");
    await page.getByText("No workflow matches these filters.").waitFor();
    await page.getByLabel("Status").selectOption("succeeded");
    await row.waitFor();
    await page.getByLabel("Search by name").fill("");
    await page.getByLabel("Status").selectOption("");
    await page.waitForFunction(() => location.hash === "#/workflows");
    await row.waitFor();
    await page.locator("[data-live=live]").waitFor();
    await browser.shot(page, "list");
  },

  /** Cancel a running workflow from its page, with a reason, and see the server's answer. */
  async cancel({ page, browser, state, log }) {
    await page.goto("/#/new");
    await schemaLoaded(page);
    await page.getByRole("button", { name: "JSON document" }).click();
    const doc = {
      name: `e2e cancel ${state.run}`,
      labels: { suite: "browser" },
      tasks: [
        { name: "prepare", executor: "noop", params: { outputs: { ph: 6.8, temperature_c: 25.1 } } },
        { name: "long-step", executor: "python", depends_on: ["prepare"], params: { function: "laf_runner.library:sleep", seconds: 30 } },
        { name: "after", executor: "noop", depends_on: ["long-step"] },
      ],
    };
    await page.getByLabel("Workflow document (JSON)").fill(JSON.stringify(doc, null, 2));
    await page.locator("[data-validity=valid]").waitFor();
    await page.getByRole("button", { name: "Submit workflow" }).click();
    await page.waitForURL(/#\/workflows\/[0-9a-f-]{36}$/);
    await page.locator('g.dag-node[data-task="long-step"][data-status="running"]').waitFor({ timeout: 20000 });
    log("long-step is running");

    await page.getByRole("group", { name: "Workflow actions" }).getByRole("button", { name: "Cancel" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel workflow" });
    await dialog.getByLabel(/Reason/).fill("e2e: wrong sample loaded");
    await browser.shot(page, "cancel-dialog");
    await dialog.getByRole("button", { name: "Cancel workflow" }).click();
    // CONTRACT (issue #4): POST /api/workflows/{id}/cancel answers 200 with the workflow, now cancelled
    const answer = dialog.locator("[data-answer]");
    await answer.waitFor();
    assert.equal(await answer.getAttribute("data-answer"), "ok", `cancel refused: ${await answer.textContent()}`);
    assert.match(await answer.textContent(), /cancelled/);
    await dialog.getByRole("button", { name: "Close" }).click();
    await page.locator("[data-workflow-status=cancelled]").waitFor();
    // Cancel is now disabled: focus goes to the page's heading, not lost to the document
    await page.waitForFunction(() => document.activeElement?.id === "wf-title");
    // the actions a cancelled workflow's tasks no longer allow are not offered
    await page.getByRole("button", { name: /^task after: cancelled/ }).click();
    const actions = page.getByRole("group", { name: "Actions on task after" });
    assert.equal(await actions.getByRole("button", { name: "Retry" }).isDisabled(), true);
    assert.equal(await actions.getByRole("button", { name: "Skip" }).isDisabled(), true);
    await page.locator("dl.facts").getByText("3/3 finished").waitFor();
    await page.locator('g.dag-node[data-task="long-step"][data-status="cancelled"]').waitFor();
    const after = await page.locator('g.dag-node[data-task="after"]').getAttribute("data-status");
    assert.ok(FINAL_TASK_STATUSES.includes(after), `'after' should not run: ${after}`);
    const history = page.locator("table.history");
    await history.getByText("e2e: wrong sample loaded").first().waitFor();
    await history.getByText("user:olga").first().waitFor(); // who acts is who logged in
    await browser.shot(page, "cancel");
    log("cancelled, with the reason and the operator in the history");
  },

  /** The lab: each instrument with its status, current task and queue, live; and the runners. */
  async lab({ page, browser, state, log }) {
    await page.goto("/#/lab");
    await page.locator("[data-instrument], [data-empty=instruments]").first().waitFor();
    await page.locator("[data-runner]").first().waitFor();
    await page.locator("[data-live=live]").waitFor();
    const balance = page.locator('[data-instrument="balance-01"]');
    assert.equal(await balance.count(), 1, "balance-01 is registered (tests/browser/conftest.py seeds examples/lab.json)");
    // two workflows compete for the balance: one weighs, the other waits in its queue
    for (const n of [1, 2]) {
      const response = await page.request.post("/api/workflows", {
        data: {
          name: `e2e weighing ${n} ${state.run}`,
          tasks: [{ name: `weigh-${n}`, executor: "python", instrument: "balance-01", params: { function: "laf_runner.library:sleep", seconds: 4 } }],
        },
      });
      assert.equal(response.status(), 201, await response.text());
    }
    // on it now (the recent runs below list it too)
    await balance.locator("ul.tasks-now").getByRole("link", { name: `weigh-1 · e2e weighing 1 ${state.run}` }).waitFor({ timeout: 15000 });
    await balance.locator("ol.queue").getByRole("link", { name: `weigh-2 · e2e weighing 2 ${state.run}` }).waitFor();
    await browser.shot(page, "lab");
    log("balance-01 busy with weigh-1, weigh-2 queued");
    await balance.locator("ol.queue").getByRole("link", { name: /weigh-2/ }).waitFor({ state: "detached", timeout: 15000 });
    await balance.locator("ul.tasks-now").getByRole("link", { name: /weigh-2/ }).waitFor();
    await balance.getByText("idle").waitFor({ timeout: 15000 });
    // both then among its recent runs, succeeded
    await balance.locator('[data-run="weigh-2"]').getByText("succeeded").waitFor({ timeout: 15000 });
    log("then weigh-2 on it, then idle, without a reload");
  },

  // Issue #10: a viewer reads everything and is offered no change; the operator is.
  async "viewer-and-operator"({ page, browser, state, users, log }) {
    const response = await page.request.post("/api/workflows", {
      data: { name: `e2e roles ${state.run}`, tasks: [{ name: "wait", executor: "manual", params: { instructions: "check" } }] },
    });
    assert.equal(response.status(), 201, await response.text());
    const id = (await response.json()).id;
    try {
      await browser.logIn(page, ...users.viewer);
      await page.getByLabel("Logged in").getByText("vic (viewer)").waitFor();
      assert.equal(await page.getByRole("link", { name: "New workflow" }).count(), 0, "a viewer sees no submit");
      await page.goto(`/#/workflows/${id}?task=wait`);
      await page.getByRole("heading", { name: `e2e roles ${state.run}` }).waitFor();
      await page.locator("[data-task-detail=wait]").waitFor();
      assert.equal(await page.getByRole("group", { name: "Workflow actions" }).count(), 0);
      assert.equal(await page.getByRole("button", { name: "Complete" }).count(), 0);
      await page.goto("/#/new");
      await page.getByText("Submitting a workflow needs the operator role").waitFor();
      await browser.shot(page, "viewer");
      log("the viewer reads the workflow; no submit, no actions");
      // the API refuses a viewer's change too, with the role it needs
      const refused = await page.request.post(`/api/workflows/${id}/cancel`, { data: { reason: "try" } });
      assert.equal(refused.status(), 403);
      assert.match((await refused.json()).detail, /needs the operator role/);
    } finally {
      await browser.logIn(page, ...users.operator);
    }
    await page.goto(`/#/workflows/${id}?task=wait`);
    await page.getByRole("group", { name: "Workflow actions" }).waitFor();
    await page.getByRole("button", { name: "Complete" }).waitFor();
    assert.ok(await page.getByRole("link", { name: "New workflow" }).count());
    log("the operator is offered them");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("User name").waitFor();
    const after = await page.request.get("/api/auth/me");
    assert.equal(after.status(), 401, "logging out ends the session");
    await browser.logIn(page, ...users.operator);
  },
};
