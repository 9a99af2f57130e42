// End-to-end scenarios in Debian's Chromium against a running LAF stack.
//   LAF_E2E_BASE_URL   the API serving the built frontend (e.g. http://127.0.0.1:8000)
//   LAF_E2E_ARTIFACTS  where screenshots go (default: ../test-artifacts/browser)
// Usage: node e2e/run.mjs [scenario ...]   (default: all, in order)
// Exits non-zero when a scenario fails or the page logs any console error.
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openBrowser } from "./browser.mjs";
import { scenarios as basics } from "./scenarios.mjs";
import { scenarios as cockpit } from "./cockpit.mjs";
import { scenarios as audit } from "./audit.mjs";
import { scenarios as operator } from "./operator.mjs";

const scenarios = { ...basics, ...cockpit, ...audit, ...operator };

const here = path.dirname(fileURLToPath(import.meta.url));
const baseURL = process.env.LAF_E2E_BASE_URL;
if (!baseURL) {
  console.error("set LAF_E2E_BASE_URL to the LAF API that serves the frontend");
  process.exit(2);
}
const artifacts = process.env.LAF_E2E_ARTIFACTS ?? path.resolve(here, "..", "..", "test-artifacts", "browser");
const wanted = process.argv.slice(2);
const chosen = wanted.length ? wanted : Object.keys(scenarios);
for (const name of chosen) if (!scenarios[name]) {
  console.error(`unknown scenario '${name}'; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}

const browser = await openBrowser({ baseURL, artifacts });
// screenshots of an earlier run's failures of these scenarios would mislead
for (const file of await readdir(artifacts))
  if (chosen.some((name) => file === `FAILED-${name}.png`)) await rm(path.join(artifacts, file), { force: true });
const state = { run: Date.now().toString(36) };
const users = {
  operator: [process.env.LAF_E2E_USERNAME, process.env.LAF_E2E_PASSWORD],
  viewer: [process.env.LAF_E2E_VIEWER_USERNAME, process.env.LAF_E2E_VIEWER_PASSWORD],
  reviewer: [process.env.LAF_E2E_REVIEWER_USERNAME, process.env.LAF_E2E_REVIEWER_PASSWORD],
  approver: [process.env.LAF_E2E_APPROVER_USERNAME, process.env.LAF_E2E_APPROVER_PASSWORD],
  admin: [process.env.LAF_E2E_ADMIN_USERNAME, process.env.LAF_E2E_ADMIN_PASSWORD],
};
if (!users.operator[0]) {
  console.error("set LAF_E2E_USERNAME and LAF_E2E_PASSWORD (an operator) to log in with");
  process.exit(2);
}
await browser.logIn(await browser.page(), ...users.operator);
let failed = 0;
let passed = 0;
try {
  for (const name of chosen) {
    const started = Date.now();
    const page = await browser.page();
    const before = browser.problems.length;
    try {
      await scenarios[name]({ page, browser, baseURL, state, users, log: (m) => console.log(`  ${name}: ${m}`) });
      const problems = browser.problems.slice(before);
      if (problems.length) throw new Error(`console errors:\n    ${problems.join("\n    ")}`);
      passed++;
      console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${name}: ${err?.stack ?? err}`);
      try {
        console.log(`     screenshot: ${await browser.shot(page, `FAILED-${name}`)}`);
      } catch {
        /* the page may be gone */
      }
    }
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
