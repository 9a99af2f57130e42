import { useEffect } from "react";
import { Builder } from "./pages/Builder";
import { Lab } from "./pages/Lab";
import { WorkflowList } from "./pages/WorkflowList";
import { WorkflowPage } from "./pages/WorkflowPage";
import { useRoute, type Route } from "./router";

const TITLES: Record<Route["page"], string> = {
  list: "Workflows",
  workflow: "Workflow",
  new: "New workflow",
  lab: "Lab",
  missing: "Not found",
};

export function App() {
  const route = useRoute();
  useEffect(() => {
    document.title = `${TITLES[route.page]} — LAF`;
  }, [route.page]);
  const current = (page: Route["page"]) => (route.page === page || (page === "list" && route.page === "workflow") ? "page" : undefined);
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href="#/workflows">
          <svg viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="7" />
            <path d="M11 7h10v2h-2v6l6 10a2 2 0 0 1-2 3H9a2 2 0 0 1-2-3l6-10V9h-2z" />
          </svg>
          <span>LAF</span>
          <small>Laboratory Automation Framework</small>
        </a>
        <nav aria-label="Main">
          <a href="#/workflows" aria-current={current("list")}>
            Workflows
          </a>
          <a href="#/new" aria-current={current("new")}>
            New workflow
          </a>
          <a href="#/lab" aria-current={current("lab")}>
            Lab
          </a>
          <a href="/docs">API</a>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === "list" && <WorkflowList query={route.query} />}
        {route.page === "workflow" && <WorkflowPage key={route.id} id={route.id} task={route.task} />}
        {route.page === "new" && <Builder />}
        {route.page === "lab" && <Lab />}
        {route.page === "missing" && (
          <section>
            <h1>Not found</h1>
            <p>
              Nothing at <code>#{route.path}</code>. <a href="#/workflows">See the workflows</a>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
