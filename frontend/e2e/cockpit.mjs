// Browser scenarios of issue #17 (the web app as the lab's cockpit): large
// workflows (render and click measured and printed, not asserted), every page at
// 390, 1366 and 1920 px without sideways scroll and with no axe-core violation,
// a waiting task's place in line.
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const WIDTHS = [390, 1366, 1920];

/** Every figure printed by the scenarios, one line each, for the report ("figure: ..."). */
const figure = (log, text) => log(`figure: ${text}`);

async function submit(page, doc) {
  const response = await page.request.post("/api/workflows", { data: doc, timeout: 180000 });
  assert.equal(response.status(), 201, await response.text());
  return (await response.json()).id;
}

/** axe-core's full default rule set on the page as it is now; fails naming every violation. */
export async function axeClean(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.length} element(s), e.g. ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}${v.nodes[0]?.failureSummary ? ` — ${v.nodes[0].failureSummary.replace(/\s+/g, " ")}` : ""}`);
  });
  assert.deepEqual(result, [], `axe-core violations on ${what}:\n  ${result.join("\n  ")}`);
}

/** Nothing on the page is wider than the window (no sideways scroll). */
export async function noSidewaysScroll(page, what) {
  const { scroll, client, widest } = await page.evaluate(() => {
    const client = document.documentElement.clientWidth;
    let widest = "";
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right > client + 1 && r.width > 0 && !el.closest(".table-scroll, .timeline-scroll, .graph-box, .sr-only, .skip")) {
        widest = `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} right=${Math.round(r.right)}`;
        break;
      }
    }
    return { scroll: document.documentElement.scrollWidth, client, widest };
  });
  assert.ok(scroll <= client, `${what}: the page scrolls sideways (${scroll} px wide in ${client} px)${widest ? `; first too wide: ${widest}` : ""}`);
}

/** Navigate inside the app to a workflow and measure until its graph is drawn (ms since the hash changed). */
async function firstRender(page, id) {
  await page.goto("/#/workflows");
  await page.locator("h1", { hasText: "Workflows" }).waitFor();
  const started = await page.evaluate((wid) => {
    window.__lafGraph = undefined;
    performance.clearMarks();
    const t0 = performance.now();
    location.hash = `#/workflows/${wid}`;
    return t0;
  }, id);
  await page.waitForFunction(() => window.__lafGraph !== undefined, null, { timeout: 60000 });
  return page.evaluate((t0) => {
    const fetched = performance.getEntriesByName("laf:workflow-fetched")[0]?.startTime;
    return { total: window.__lafGraph.at - t0, fetched: fetched - t0, afterFetch: window.__lafGraph.at - fetched, layout: window.__lafGraph.layoutMs, nodes: window.__lafGraph.nodes };
  }, started);
}

/** A click dispatched in the page, timed until the next frame after `answer` appears. */
async function timeClick(page, target, answer) {
  return page.evaluate(
    async ([sel, wanted]) => {
      const el = document.querySelector(sel);
      if (!el) throw new Error(`nothing at ${sel}`);
      const t0 = performance.now();
      el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, view: window }));
      while (!document.querySelector(wanted)) await new Promise((r) => setTimeout(r, 0));
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      return performance.now() - t0;
    },
    [target, answer],
  );
}

async function watchLongTasks(page) {
  await page.evaluate(() => {
    window.__lafLong = [];
    new PerformanceObserver((list) => window.__lafLong.push(...list.getEntries().map((e) => e.duration))).observe({ type: "longtask" });
  });
}
const longest = (page) => page.evaluate(() => Math.max(0, ...window.__lafLong));
const ms = (v) => `${Math.round(v)} ms`;

export const scenarios = {
  /** 1,000 noop tasks (a fan-out of 998 between two), rendered while they run. */
  async "large-1000"({ page, browser, state, log }) {
    const n = 998;
    const inject = Array.from({ length: n }, (_, i) => `inject-${String(i + 1).padStart(3, "0")}`);
    const id = await submit(page, {
      name: `e2e 1,000 tasks ${state.run}`,
      labels: { suite: "browser", size: "1000" },
      tasks: [
        { name: "prepare", executor: "noop" },
        ...inject.map((name) => ({ name, executor: "noop", depends_on: ["prepare"], params: { outputs: { area: 1523 } } })),
        { name: "report", executor: "noop", depends_on: inject, params: { outputs: { assay_percent: 99.1, pass: true } } },
      ],
    });
    await page.setViewportSize({ width: 1366, height: 900 });
    const r = await firstRender(page, id);
    figure(log, `1,000 tasks first render ${ms(r.total)} (workflow read ${ms(r.fetched)}, then drawn in ${ms(r.afterFetch)}; layout ${ms(r.layout)}; ${r.nodes} nodes with the fan-out collapsed)`);
    await watchLongTasks(page);
    const group = page.locator("g.dag-group");
    await group.waitFor();
    assert.match(await group.getAttribute("aria-label"), /^fan-out inject-…: 998 tasks, /);

    // the group's counts, then expand it: 1,000 boxes
    const openGroup = await timeClick(page, "g.dag-group", "[data-group-panel]");
    figure(log, `1,000 tasks: click on the fan-out answered in ${ms(openGroup)}`);
    const expand = await timeClick(page, "[data-group-panel] button:not([aria-label])", '[data-graph][data-nodes="1000"] .graph-box[data-drawn="1000"]');
    figure(log, `1,000 tasks: Expand (re-layout of 1,000 boxes) answered in ${ms(expand)}`);
    assert.equal(await page.locator("[data-graph]").getAttribute("data-mode"), "overview", "1,000 boxes fitted are drawn as the overview");
    await page.locator(".minimap").waitFor({ state: "attached" }).catch(() => {});

    // zoom in and out with the buttons, then fit
    const zoom = async () => Number(await page.locator("[data-graph]").getAttribute("data-zoom"));
    const fitted = await zoom();
    await page.getByRole("button", { name: "Zoom in" }).click();
    await page.getByRole("button", { name: "Zoom in" }).click();
    assert.ok((await zoom()) > fitted * 1.5, "zoom in");
    await page.getByRole("button", { name: "Fit" }).click();
    assert.equal(await zoom(), fitted, "fit returns to the whole graph");

    // find a task: the graph zooms to it and its details open
    await page.getByLabel("Find a task").fill("inject-777");
    const found = await page.evaluate(async () => {
      const input = document.getElementById("graph-find");
      const t0 = performance.now();
      input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
      while (!document.querySelector('[data-task-detail="inject-777"]')) await new Promise((r) => setTimeout(r, 0));
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      return performance.now() - t0;
    });
    figure(log, `1,000 tasks: find inject-777 (zoom to it, open it) answered in ${ms(found)}`);
    await page.locator('g.dag-node[data-task="inject-777"]').waitFor();
    assert.equal(await page.locator("[data-graph]").getAttribute("data-mode"), "detail");

    const clickTask = await timeClick(page, 'g.dag-node[data-task="inject-776"]', '[data-task-detail="inject-776"]');
    figure(log, `1,000 tasks: click on a task answered in ${ms(clickTask)}`);

    // the run finishes live: batched updates keep the page answering
    await page.locator("[data-workflow-status=succeeded]").waitFor({ timeout: 120000 });
    await page.locator("dl.facts").getByText("1000/1000 finished").waitFor({ timeout: 30000 });
    const clickLater = await timeClick(page, 'g.dag-node[data-task="inject-775"]', '[data-task-detail="inject-775"]');
    figure(log, `1,000 tasks: click after the run answered in ${ms(clickLater)}; longest task blocking the page meanwhile ${ms(await longest(page))}`);
    await page.getByRole("button", { name: "Collapse fan-outs" }).click();
    await page.locator("g.dag-group").waitFor();
    assert.match(await page.locator("g.dag-group").getAttribute("aria-label"), /998 succeeded/);
    await page.locator("[data-result=report]").getByText("assay_percent").waitFor();
    // the timeline draws only the rows in view
    const rows = await page.locator(".timeline-row").count();
    assert.ok(rows < 120, `the timeline renders ${rows} rows of 1,000`);
    await browser.shot(page, "large-1000");
  },

  /** 10,000 tasks: an operator's step first, then 2 × 4,999 in parallel chains, then a report. */
  async "large-10000"({ page, browser, state, log }) {
    const k = 4999;
    const tasks = [{ name: "load-samples", executor: "manual", params: { instructions: "Load the 4,999 vials into the autosampler racks" } }];
    for (let i = 0; i < k; i++) tasks.push({ name: `weigh-${i}`, executor: "noop", depends_on: ["load-samples"] });
    for (let i = 0; i < k; i++) tasks.push({ name: `measure-${i}`, executor: "noop", depends_on: [`weigh-${i}`] });
    tasks.push({ name: "report", executor: "noop", depends_on: Array.from({ length: k }, (_, i) => `measure-${i}`) });
    assert.equal(tasks.length, 10000);
    const t0 = Date.now();
    const id = await submit(page, { name: `e2e 10,000 tasks ${state.run}`, labels: { suite: "browser", size: "10000" }, tasks });
    log(`submitted 10,000 tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    state.bigId = id;
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.waitForTimeout(1500); // the manual step starts: the workflow is still from then on
    const r = await firstRender(page, id);
    figure(log, `10,000 tasks first render ${ms(r.total)} (workflow read ${ms(r.fetched)}, then drawn in ${ms(r.afterFetch)}; layout ${ms(r.layout)}; ${r.nodes} nodes with the fan-outs collapsed)`);
    await page.goto("about:blank");
    await page.goto(`/#/workflows/${id}`);
    await page.waitForFunction(() => window.__lafGraph !== undefined, null, { timeout: 60000 });
    const coldMs = await page.evaluate(() => window.__lafGraph.at);
    figure(log, `10,000 tasks first render from a cold page load ${ms(coldMs)} (navigation start to graph drawn)`);
    await watchLongTasks(page);
    assert.equal(await page.locator("g.dag-group").count(), 2, "two fan-outs of 4,999");

    const clickTask = await timeClick(page, 'g.dag-node[data-task="load-samples"]', '[data-task-detail="load-samples"]');
    figure(log, `10,000 tasks: click on a task answered in ${ms(clickTask)}`);
    await page.locator('[data-task-detail="load-samples"]').getByText("Awaiting an operator").waitFor();
    const clickGroup = await timeClick(page, "g.dag-group", "[data-group-panel]");
    figure(log, `10,000 tasks: click on a fan-out answered in ${ms(clickGroup)}`);
    assert.match(await page.locator("[data-group-panel]").textContent(), /4999 tasks/);

    const expandAll = await timeClick(page, ".graph-tools button:nth-of-type(5)", '.graph-box[data-drawn="10000"]');
    figure(log, `10,000 tasks: Expand all (layout and drawing of 10,000 boxes) answered in ${ms(expandAll)} (layout ${ms(await page.evaluate(() => window.__lafGraph.layoutMs))})`);
    assert.equal(await page.locator("[data-graph]").getAttribute("data-mode"), "overview");
    const elements = await page.evaluate(() => document.querySelectorAll("*").length);
    log(`elements in the document with 10,000 boxes drawn: ${elements}`);
    assert.ok(elements < 5000, `${elements} elements for 10,000 boxes`);
    // a click on a box of the overview: hit-tested, the task opens
    const box = await page.locator(".graph-box").boundingBox();
    const overviewClick = await page.evaluate(async () => {
      const svg = document.querySelector("svg.dag-canvas");
      const g = svg.querySelector("g");
      const m = /translate\(([-\d.e]+) ([-\d.e]+)\) scale\(([-\d.e]+)\)/.exec(g.getAttribute("transform"));
      const [x, y, k] = m.slice(1).map(Number);
      const r = svg.getBoundingClientRect();
      // the weigh- layer is the second; pick a point on its column, a quarter down (the middle is load-samples')
      const px = r.left + x + (12 + 168 + 52 + 84) * k;
      const py = r.top + y + (12 + 4999 * 70 * 0.25) * k;
      const t0 = performance.now();
      svg.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: px, clientY: py, view: window }));
      const deadline = t0 + 5000;
      while (!document.querySelector("[data-task-detail]:not([data-task-detail='load-samples'])") && performance.now() < deadline) await new Promise((res) => setTimeout(res, 0));
      await new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
      return { ms: performance.now() - t0, task: document.querySelector("[data-task-detail]")?.getAttribute("data-task-detail") };
    });
    assert.match(overviewClick.task ?? "", /^weigh-\d+$/, `a click on the overview opened ${overviewClick.task}`);
    figure(log, `10,000 tasks: click on a box of the overview (hit test) answered in ${ms(overviewClick.ms)}, opened ${overviewClick.task}`);
    assert.ok(box);

    await page.getByLabel("Find a task").fill("measure-4321");
    await page.getByRole("button", { name: "measure-4321", exact: true }).click();
    await page.locator('[data-task-detail="measure-4321"]').waitFor();
    await page.locator('g.dag-node[data-task="measure-4321"]').waitFor();
    const clickNear = await timeClick(page, 'g.dag-node[data-task="measure-4321"]', '.workflow-page:not(:has([data-task-detail="measure-4321"]))');
    figure(log, `10,000 tasks: click on a task (zoomed in after find) answered in ${ms(clickNear)}; longest task blocking the page ${ms(await longest(page))}`);
    await page.locator(".graph-tools").getByRole("button", { name: "Collapse fan-outs" }).click();
    await page.locator("g.dag-group").first().waitFor();
    await browser.shot(page, "large-10000");
  },

  /** Every page at 390, 1366 and 1920 px: no sideways scroll, no axe-core violation, a screenshot each. */
  async screens({ page, browser, state, log }) {
    const id = await submit(page, {
      name: `e2e assay B-1042 ${state.run}`,
      description: "Assay of a tablet batch against the reference standard (HPLC, external standard).",
      labels: { batch: `B-1042-${state.run}`, product: "paracetamol-500mg", suite: "browser" },
      tasks: [
        { name: "weigh-standard", executor: "noop", params: { outputs: { mass_mg: 50.12, stable: true, unit: "mg" } } },
        { name: "weigh-sample", executor: "noop", params: { outputs: { mass_mg: 50.31, stable: true, unit: "mg" } } },
        { name: "check-ph-of-the-mobile-phase-buffer", executor: "local", params: { command: ["sh", "-c", "echo 'pH meter not calibrated today' >&2; exit 3"] } },
        { name: "inject", executor: "noop", depends_on: ["weigh-standard", "weigh-sample"], params: { outputs: { area: 15234.6 } } },
        { name: "compute-assay", executor: "noop", depends_on: ["inject"], params: { outputs: { assay_percent: 98.48, limits: [95, 105], pass: true } } },
      ],
    });
    await page.goto(`/#/workflows/${id}`);
    await page.locator("[data-workflow-status=failed]").waitFor({ timeout: 30000 });
    await page.locator("[data-first-error]").waitFor();
    await page.locator("[data-result=compute-assay]").getByText("98.48").waitFor();
    const pages = [
      ["list", "/#/workflows", async () => page.locator("tr", { has: page.getByRole("link", { name: `e2e assay B-1042 ${state.run}` }) }).waitFor()],
      ["workflow", `/#/workflows/${id}`, async () => page.locator("[data-result=compute-assay]").waitFor()],
      ["builder", "/#/new", async () => page.locator("[data-validity]:not([data-validity=loading])").first().waitFor()],
      ["lab", "/#/lab", async () => page.locator("[data-runner]").first().waitFor()],
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
      log(`${width} px: list, workflow, builder, lab without sideways scroll or axe-core violations`);
    }
    // at 390 px the list is cards (its status on screen), the header a menu
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/#/workflows");
    const card = page.locator("tr", { has: page.getByRole("link", { name: `e2e assay B-1042 ${state.run}` }) });
    const badge = await card.locator("[data-status]").first().boundingBox();
    assert.ok(badge && badge.x + badge.width <= 390, "the status is on screen at 390 px");
    assert.equal(await page.locator("header nav").isVisible(), false, "the header's links collapse into a menu");
    await page.getByRole("button", { name: "Menu" }).click();
    await page.locator("header nav").getByRole("link", { name: "Lab" }).click();
    await page.locator("h1", { hasText: "Lab" }).waitFor();
    // a label chip filters the list (the filter in the URL)
    await page.goto("/#/workflows");
    await card.getByRole("button", { name: `batch=B-1042-${state.run}` }).click();
    await page.waitForFunction(() => location.hash.includes("label=batch"));
    await card.waitFor();
    assert.equal(await page.locator("tbody tr").count(), 1);
    await page.setViewportSize({ width: 1280, height: 900 });
  },

  /** Two workflows compete for balance-01: the second's task shows its place in line, then its waiting time. */
  async waiting({ page, browser, state, log }) {
    const weigh = (n) => ({ name: `waiting ${n} ${state.run}`, tasks: [{ name: `weigh-${n}`, executor: "python", instrument: "balance-01", params: { function: "laf_runner.library:sleep", seconds: 5 } }] });
    await submit(page, weigh(1));
    const second = await submit(page, weigh(2));
    await page.goto(`/#/workflows/${second}?task=weigh-2`);
    const place = page.locator("[data-task-detail=weigh-2] [data-place-in-line]");
    await place.getByText("1st of 1 in line for balance-01").waitFor({ timeout: 15000 });
    assert.match(await place.textContent(), /on it now: weigh-1 \(waiting 1 /);
    assert.match(await page.locator('g.dag-node[data-task="weigh-2"]').getAttribute("aria-label"), /waiting.*1st of 1 in line for balance-01/);
    await browser.shot(page, "waiting");
    log("weigh-2 is 1st in line for balance-01 behind weigh-1");
    await page.locator("[data-workflow-status=succeeded]").waitFor({ timeout: 30000 });
    const seg = page.locator('[data-timeline-task="weigh-2"] .seg-waiting');
    await seg.waitFor();
    const waited = Number(await seg.getAttribute("data-waiting-ms"));
    assert.ok(waited > 2000, `weigh-2 waited ${waited} ms for the balance`);
    await page.locator("[data-task-detail=weigh-2]").getByText("Waited for the instrument").waitFor();
    log(`the timeline shows weigh-2 waiting ${waited} ms for balance-01`);
    await browser.shot(page, "waiting-timeline");
  },
};
