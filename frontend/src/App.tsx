import { useEffect, useState } from "react";
import { holds, loadSession, logOut, useCan, useSession } from "./auth/session";
import { Builder } from "./pages/Builder";
import { Login } from "./pages/Login";
import { Inbox } from "./pages/Inbox";
import { Lab } from "./pages/Lab";
import { System } from "./pages/System";
import { WorkflowList } from "./pages/WorkflowList";
import { WorkflowPage } from "./pages/WorkflowPage";
import { useRoute, type Route } from "./router";

const TITLES: Record<Route["page"], string> = {
  list: "Workflows",
  workflow: "Workflow",
  new: "New workflow",
  lab: "Lab",
  inbox: "Inbox",
  system: "System",
  missing: "Not found",
};

export function App() {
  const route = useRoute();
  useEffect(() => {
    document.title = `${TITLES[route.page]} — LAF`;
  }, [route.page]);
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [route]);
  const current = (page: Route["page"]) => (route.page === page || (page === "list" && route.page === "workflow") ? "page" : undefined);
  const { user, notice } = useSession();
  useEffect(() => {
    if (user === undefined) void loadSession();
  }, [user]);
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
        <button type="button" className="menu-toggle" aria-expanded={menu} aria-controls="main-nav" onClick={() => setMenu((m) => !m)}>
          <span aria-hidden="true">☰</span> Menu
        </button>
        <nav aria-label="Main" id="main-nav" className={menu ? "open" : undefined}>
          <a href="#/workflows" aria-current={current("list")}>
            Workflows
          </a>
          {holds(user, "operator") && (
            <a href="#/new" aria-current={current("new")}>
              New workflow
            </a>
          )}
          <a href="#/inbox" aria-current={current("inbox")}>
            Inbox
          </a>
          <a href="#/lab" aria-current={current("lab")}>
            Lab
          </a>
          {holds(user, "operator") && (
            <a href="#/system" aria-current={current("system")}>
              System
            </a>
          )}
          <a href="/docs">API</a>
        </nav>
        {user && (
          <div className="who" aria-label="Logged in">
            <span>
              {user.name} <small>({user.roles.join(", ") || "no role"})</small>
            </span>
            {!user.open_mode && (
              <button type="button" className="link" onClick={() => void logOut()}>
                Log out
              </button>
            )}
          </div>
        )}
      </header>
      {user?.open_mode && (
        <p className="open-mode" role="alert">
          LAF_AUTH=off: this LAF accepts anyone, without logging in. For development only.
        </p>
      )}
      <main id="main" tabIndex={-1}>
        {user === undefined && <p role="status">Loading…</p>}
        {user === null && <Login notice={notice} />}
        {user && <Pages route={route} />}
      </main>
    </>
  );
}

function Pages({ route }: { route: Route }) {
  const canOperate = useCan("operator");
  return (
    <>
        {route.page === "list" && <WorkflowList query={route.query} />}
        {route.page === "workflow" && <WorkflowPage key={route.id} id={route.id} task={route.task} />}
        {route.page === "new" &&
          (canOperate ? (
            <Builder />
          ) : (
            <section>
              <h1>New workflow</h1>
              <p role="alert">Submitting a workflow needs the operator role. Ask an administrator if you need it.</p>
            </section>
          ))}
        {route.page === "lab" && <Lab />}
        {route.page === "inbox" && <Inbox />}
        {route.page === "system" &&
          (canOperate ? (
            <System />
          ) : (
            <section>
              <h1>System</h1>
              <p role="alert">The system's state is for operators and administrators. Ask an administrator if you need it.</p>
            </section>
          ))}
        {route.page === "missing" && (
          <section>
            <h1>Not found</h1>
            <p>
              Nothing at <code>#{route.path}</code>. <a href="#/workflows">See the workflows</a>.
            </p>
          </section>
        )}
    </>
  );
}
