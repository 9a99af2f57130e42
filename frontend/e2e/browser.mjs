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
