// Launch Debian's Chromium through playwright-core (no browser download) and
// collect every console error and page error, so a scenario can fail on them.
import { mkdtemp, rm, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.LAF_CHROMIUM ?? "/usr/bin/chromium";
export const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function openBrowser({ baseURL, artifacts }) {
  const profile = await mkdtemp(path.join(tmpdir(), "laf-chromium-"));
  await mkdir(artifacts, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    baseURL,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    reducedMotion: "reduce",
    // as the web app sends it: the API refuses a change made with the cookie without it
    extraHTTPHeaders: { "X-Requested-With": "laf" },
  });
  const problems = [];
  const watch = (page) => {
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error on ${page.url()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  };
  context.on("page", watch);
  context.pages().forEach(watch);
  return {
    context,
    problems,
    async page() {
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(15000);
      return page;
    },
    /** Log in through the form (the session cookie then serves every page and request). */
    async logIn(page, username, password) {
      // from a page that reads nothing: a list or workflow page's request in flight at
      // log-out would answer 401, a console error that fails the scenario
      await page.goto("/#/switch-user");
      const who = page.getByLabel("Logged in");
      if (await who.count()) {
        if ((await who.textContent()).startsWith(`${username} `)) return;
        await who.getByRole("button", { name: "Log out" }).click();
      }
      await page.getByLabel("User name").fill(username);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Log in" }).click();
      await who.waitFor();
    },
    async shot(page, name) {
      const file = path.join(artifacts, `${name}.png`);
      // from the top, so sticky parts sit where a reader expects them
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
