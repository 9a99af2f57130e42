import { useEffect, useState } from "react";

// Hash routes (the API serves static files without an SPA fallback):
//   #/ and #/workflows[?status=&q=]  the list     #/workflows/<id>  one workflow
//   #/new                            the builder  #/lab             the lab
//   #/inbox                          steps awaiting an operator
//   #/system                         services' readiness, outbox backlog, dead letters
export type Route =
  | { page: "list"; query: URLSearchParams }
  | { page: "workflow"; id: string; task: string | null }
  | { page: "new"; query: URLSearchParams }
  | { page: "lab" }
  | { page: "inbox" }
  | { page: "system" }
  | { page: "missing"; path: string };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?", 2);
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] === "workflows" && parts.length === 1)) return { page: "list", query };
  if (parts[0] === "workflows" && parts.length === 2) return { page: "workflow", id: parts[1], task: query.get("task") };
  if (parts[0] === "new" && parts.length === 1) return { page: "new", query };
  if (parts[0] === "lab" && parts.length === 1) return { page: "lab" };
  if (parts[0] === "inbox" && parts.length === 1) return { page: "inbox" };
  if (parts[0] === "system" && parts.length === 1) return { page: "system" };
  return { page: "missing", path };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(hash: string, replace = false) {
  if (replace) window.history.replaceState(null, "", hash);
  else window.location.hash = hash.replace(/^#/, "");
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export const workflowHref = (id: string, task?: string) => `#/workflows/${encodeURIComponent(id)}${task ? `?task=${encodeURIComponent(task)}` : ""}`;
