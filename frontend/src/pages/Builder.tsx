import { lazy, Suspense, useEffect, useMemo, useRef, useState } from "react";
import { api, attempt } from "../api/client";
import { EXECUTORS } from "../api/types";
import { Dag } from "../components/Dag";
import {
  EXAMPLE,
  emptyDraft,
  fromDocument,
  newTask,
  paramsTemplate,
  parseLabels,
  parseParams,
  pretty,
  removeTask,
  renameTask,
  toDocument,
  type Draft,
  type DraftTask,
} from "../lib/draft";
import { loadRegistry, paramsFormSchema, type Registry } from "../lib/instruments";
import { errorsAt, errorsUnder, serverErrors, validateWorkflow, type FieldError } from "../lib/validate";
import { navigate, workflowHref } from "../router";

const ParamsForm = lazy(() => import("../components/ParamsForm"));

function FieldErrors({ id, errors }: { id: string; errors: FieldError[] }) {
  if (!errors.length) return null;
  return (
    <ul className="field-error" id={`${id}-err`} data-error-for={id}>
      {errors.map((e, i) => (
        <li key={i}>{e.message}</li>
      ))}
    </ul>
  );
}

const described = (id: string, errors: FieldError[]) =>
  errors.length ? { "aria-invalid": true as const, "aria-describedby": `${id}-err` } : { "aria-invalid": false as const };

interface TaskEditorProps {
  task: DraftTask;
  index: number;
  all: DraftTask[];
  registry: Registry | null;
  errors: FieldError[];
  shown: (path: string) => boolean;
  touch: (path: string) => void;
  update: (key: string, change: Partial<DraftTask>) => void;
  rename: (key: string, name: string) => void;
  remove: (key: string) => void;
  move: (key: string, by: number) => void;
}

function TaskEditor({ task, index, all, registry, errors, shown, touch, update, rename, remove, move }: TaskEditorProps) {
  const base = `tasks.${index}`;
  const id = `task-${task.key}`;
  const at = (field: string) => (shown(`${base}.${field}`) ? errorsUnder(errors, `${base}.${field}`) : []);
  const instruments = registry?.instruments ?? [];
  const instrument = instruments.find((i) => i.id === task.instrument);
  const formSchema = paramsFormSchema(instrument);
  const [rawParams, setRawParams] = useState(false);
  const useForm = !!formSchema && !rawParams;
  const others = all.filter((t) => t.key !== task.key && t.name);
  const unknownDeps = task.depends_on.filter((d) => !all.some((t) => t.name === d && t.key !== task.key));
  const taskLevel = shown(base) ? errorsAt(errors, base) : [];

  const setExecutor = (executor: string) => {
    const untouched = task.paramsText.trim() === pretty(paramsTemplate(task.executor)).trim() || !task.paramsText.trim();
    const params = untouched ? paramsTemplate(executor) : task.params;
    update(task.key, { executor, ...(untouched ? { params, paramsText: pretty(params), paramsError: null } : {}) });
    touch(`${base}.executor`);
  };

  return (
    <fieldset className="task-editor" data-task-index={index} data-task-name={task.name}>
      <legend>
        Task {index + 1}
        {task.name ? `: ${task.name}` : ""}
      </legend>
      <div className="task-tools">
        <button type="button" onClick={() => move(task.key, -1)} disabled={index === 0} aria-label={`Move task ${index + 1} up`}>
          ↑
        </button>
        <button type="button" onClick={() => move(task.key, 1)} disabled={index === all.length - 1} aria-label={`Move task ${index + 1} down`}>
          ↓
        </button>
        <button type="button" className="danger-link" onClick={() => remove(task.key)} aria-label={`Remove task ${index + 1}`}>
          Remove
        </button>
      </div>
      <FieldErrors id={`${id}`} errors={taskLevel} />
      <div className="grid-3">
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            value={task.name}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => rename(task.key, e.target.value)}
            onBlur={() => touch(`${base}.name`)}
            {...described(`${id}-name`, at("name"))}
          />
          <FieldErrors id={`${id}-name`} errors={at("name")} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-executor`}>Executor</label>
          <select id={`${id}-executor`} value={task.executor} onChange={(e) => setExecutor(e.target.value)} {...described(`${id}-executor`, at("executor"))}>
            {[...new Set([...EXECUTORS, task.executor])].map((x) => (
              <option key={x} value={x}>
                {x}
              </option>
            ))}
          </select>
          <FieldErrors id={`${id}-executor`} errors={at("executor")} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-instrument`}>Instrument</label>
          <select
            id={`${id}-instrument`}
            value={task.instrument}
            onChange={(e) => {
              update(task.key, { instrument: e.target.value });
              touch(`${base}.instrument`);
            }}
            {...described(`${id}-instrument`, at("instrument"))}
          >
            <option value="">(none: compute)</option>
            {instruments.map((i) => (
              <option key={i.id} value={i.id}>
                {i.name} ({i.id}){i.status !== "online" ? ` — ${i.status}` : ""}
              </option>
            ))}
            {task.instrument && !instrument && <option value={task.instrument}>{task.instrument} (unknown)</option>}
          </select>
          {registry && !registry.error && !instruments.length && <p className="hint">No instruments registered on this server.</p>}
          <FieldErrors id={`${id}-instrument`} errors={at("instrument")} />
        </div>
      </div>
      <fieldset className="deps" id={`${id}-deps`} {...described(`${id}-deps`, at("depends_on"))}>
        <legend>Depends on</legend>
        {others.length === 0 && unknownDeps.length === 0 && <span className="hint">No other task to depend on.</span>}
        {others.map((o) => {
          const checked = task.depends_on.includes(o.name);
          return (
            <label key={o.key} className="check">
              <input
                type="checkbox"
                checked={checked}
                onChange={() => {
                  update(task.key, { depends_on: checked ? task.depends_on.filter((d) => d !== o.name) : [...task.depends_on, o.name] });
                  touch(`${base}.depends_on`);
                }}
              />
              {o.name}
            </label>
          );
        })}
        {unknownDeps.map((d) => (
          <label key={`unknown-${d}`} className="check unknown">
            <input
              type="checkbox"
              checked
              onChange={() => {
                update(task.key, { depends_on: task.depends_on.filter((x) => x !== d) });
                touch(`${base}.depends_on`);
              }}
            />
            {d} (unknown)
          </label>
        ))}
        <FieldErrors id={`${id}-deps`} errors={at("depends_on")} />
      </fieldset>
      <div className="field params">
        {useForm ? (
          <div className="rjsf-wrap" role="group" aria-label={`Parameters of ${instrument!.name}`}>
            <div className="label-row">
              <span className="label">Parameters ({instrument!.name})</span>
              <button type="button" className="link" onClick={() => setRawParams(true)}>
                Edit as JSON
              </button>
            </div>
            <Suspense fallback={<p className="muted">Loading the form…</p>}>
              <ParamsForm
                schema={formSchema!}
                value={task.params}
                idPrefix={`${id}-p`}
                onChange={(params) => {
                  update(task.key, { params, paramsText: pretty(params), paramsError: null });
                  touch(`${base}.params`);
                }}
              />
            </Suspense>
          </div>
        ) : (
          <>
            <div className="label-row">
              <label htmlFor={`${id}-params`}>Params (JSON object)</label>
              {formSchema && (
                <button type="button" className="link" onClick={() => setRawParams(false)}>
                  Use the form
                </button>
              )}
            </div>
            <textarea
              id={`${id}-params`}
              className="code"
              rows={Math.min(14, Math.max(3, task.paramsText.split("\n").length))}
              value={task.paramsText}
              spellCheck={false}
              onChange={(e) => {
                const { params, error } = parseParams(e.target.value);
                update(task.key, { paramsText: e.target.value, paramsError: error, ...(params ? { params } : {}) });
              }}
              onBlur={() => touch(`${base}.params`)}
              {...described(`${id}-params`, at("params"))}
            />
          </>
        )}
        <FieldErrors id={`${id}-params`} errors={at("params")} />
      </div>
      <details className="more">
        <summary>Timeout and retries</summary>
        <div className="grid-4">
          <div className="field">
            <label htmlFor={`${id}-timeout`}>Timeout (s)</label>
            <input
              id={`${id}-timeout`}
              type="number"
              min={0}
              step="any"
              value={task.timeout_s}
              onChange={(e) => update(task.key, { timeout_s: e.target.value })}
              onBlur={() => touch(`${base}.timeout_s`)}
              {...described(`${id}-timeout`, at("timeout_s"))}
            />
            <FieldErrors id={`${id}-timeout`} errors={at("timeout_s")} />
          </div>
          <label className="check align-end">
            <input type="checkbox" checked={task.customRetry} onChange={(e) => update(task.key, { customRetry: e.target.checked })} /> Custom retry policy
          </label>
          {task.customRetry &&
            (["max_attempts", "backoff_s", "max_backoff_s"] as const).map((k) => (
              <div className="field" key={k}>
                <label htmlFor={`${id}-${k}`}>{{ max_attempts: "Max attempts", backoff_s: "Backoff (s)", max_backoff_s: "Max backoff (s)" }[k]}</label>
                <input
                  id={`${id}-${k}`}
                  type="number"
                  min={0}
                  step="any"
                  value={task.retry[k]}
                  onChange={(e) => update(task.key, { retry: { ...task.retry, [k]: e.target.value } })}
                  onBlur={() => touch(`${base}.retry`)}
                  {...described(`${id}-${k}`, at(`retry.${k}`))}
                />
                <FieldErrors id={`${id}-${k}`} errors={at(`retry.${k}`)} />
              </div>
            ))}
        </div>
        {!task.customRetry && (
          <p className="hint">Default: {task.instrument ? "no automatic retry on an instrument" : "3 attempts with exponential backoff"}.</p>
        )}
      </details>
    </fieldset>
  );
}

export function Builder() {
  const [schema, setSchema] = useState<Record<string, unknown> | null>(null);
  const [schemaError, setSchemaError] = useState<string | null>(null);
  const [registry, setRegistry] = useState<Registry | null>(null);
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [mode, setMode] = useState<"form" | "json">("form");
  const [jsonText, setJsonText] = useState("");
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [showAll, setShowAll] = useState(false);
  const [sending, setSending] = useState(false);
  const [server, setServer] = useState<{ errors: FieldError[]; doc: string } | null>(null);
  const [banner, setBanner] = useState<string | null>(null);
  const summary = useRef<HTMLDivElement>(null);
  // the summary appears with the render that follows a Submit: focus it (and so scroll to it) then
  const [summaryWanted, setSummaryWanted] = useState(0);
  const showSummary = () => setSummaryWanted((n) => n + 1);
  useEffect(() => {
    if (!summaryWanted || !summary.current) return;
    summary.current.focus({ preventScroll: true });
    summary.current.scrollIntoView?.({ block: "center" });
  }, [summaryWanted]);

  useEffect(() => {
    void attempt(() => api.GET("/api/schemas/workflow")).then((r) => {
      if (r.ok) setSchema(r.data as Record<string, unknown>);
      else setSchemaError(r.error.message);
    });
    void loadRegistry().then(setRegistry);
  }, []);

  // the document to check and send, from the form or from the JSON editor
  const jsonParsed = useMemo(() => {
    if (mode !== "json") return null;
    try {
      return { doc: JSON.parse(jsonText) as unknown, error: null };
    } catch (err) {
      return { doc: null, error: `not valid JSON: ${(err as Error).message}` };
    }
  }, [mode, jsonText]);
  const doc = mode === "form" ? toDocument(draft) : jsonParsed?.doc;
  const docKey = JSON.stringify(doc ?? null);

  const instrumentSchemas = useMemo(
    () => (registry && !registry.error ? Object.fromEntries(registry.instruments.map((i) => [i.id, paramsFormSchema(i)])) : undefined),
    [registry],
  );

  const errors: FieldError[] = useMemo(() => {
    const out: FieldError[] = [];
    if (mode === "json" && jsonParsed?.error) return [{ path: "", message: jsonParsed.error, source: "json" }];
    if (mode === "form") {
      draft.tasks.forEach((t, i) => {
        if (t.paramsError) out.push({ path: `tasks.${i}.params`, message: t.paramsError, source: "json" });
      });
      for (const e of parseLabels(draft.labelsText).errors) out.push({ path: "labels", message: e, source: "json" });
    }
    if (schema && doc !== undefined) out.push(...validateWorkflow(doc, { schema, instruments: instrumentSchemas }));
    if (server && server.doc === docKey) out.push(...server.errors);
    return out;
    // eslint-disable-next-line
  }, [docKey, schema, instrumentSchemas, server, mode, jsonParsed, draft.tasks, draft.labelsText]);

  const shown = (path: string) => submitted || showAll || touched.has(path) || errors.some((e) => e.path === path && (e.source === "graph" || e.source === "server"));
  const touch = (path: string) => setTouched((s) => (s.has(path) ? s : new Set(s).add(path)));
  const update = (key: string, change: Partial<DraftTask>) => setDraft((d) => ({ ...d, tasks: d.tasks.map((t) => (t.key === key ? { ...t, ...change } : t)) }));
  const rename = (key: string, name: string) => setDraft((d) => renameTask(d, key, name));
  const remove = (key: string) => setDraft((d) => removeTask(d, key));
  const move = (key: string, by: number) =>
    setDraft((d) => {
      const i = d.tasks.findIndex((t) => t.key === key);
      const j = i + by;
      if (j < 0 || j >= d.tasks.length) return d;
      const tasks = [...d.tasks];
      [tasks[i], tasks[j]] = [tasks[j], tasks[i]];
      return { ...d, tasks };
    });
  const addTask = () =>
    setDraft((d) => {
      const names = new Set(d.tasks.map((t) => t.name));
      let n = d.tasks.length + 1;
      while (names.has(`task-${n}`)) n++;
      const last = d.tasks[d.tasks.length - 1];
      return { ...d, tasks: [...d.tasks, newTask(`task-${n}`, "noop", last?.name ? [last.name] : [])] };
    });

  const switchMode = (next: "form" | "json") => {
    if (next === mode) return;
    if (next === "json") {
      setJsonText(pretty(toDocument(draft)));
      setMode("json");
    } else {
      if (jsonParsed?.error) {
        setBanner("Fix the JSON before going back to the form.");
        return;
      }
      setDraft(fromDocument(jsonParsed?.doc));
      setMode("form");
    }
    setBanner(null);
  };

  const onUpload = async (file: File | undefined) => {
    if (!file) return;
    const text = await file.text();
    setJsonText(text);
    setMode("json");
    setBanner(`Loaded ${file.name}.`);
  };

  const submit = async () => {
    setSubmitted(true);
    setBanner(null);
    if (!schema) {
      setBanner(`The workflow schema could not be loaded (${schemaError ?? "still loading"}); nothing was sent.`);
      return;
    }
    if (errors.length) {
      showSummary();
      return;
    }
    setSending(true);
    const res = await attempt(() => api.POST("/api/workflows", { body: doc as never }));
    setSending(false);
    if (res.ok) {
      navigate(workflowHref(res.data.id));
      return;
    }
    if (res.error.status === 422) {
      setServer({ errors: serverErrors(res.error.details ?? res.error.message, doc), doc: docKey });
      showSummary();
    } else setBanner(`The server refused the workflow (HTTP ${res.error.status}): ${res.error.message}`);
  };

  const labelErrors = shown("labels") ? errorsUnder(errors, "labels") : [];
  const nameErrors = shown("name") ? errorsAt(errors, "name") : [];
  const docErrors = errorsAt(errors, "");
  const summaryErrors = submitted || showAll ? errors : errors.filter((e) => e.source === "graph" || e.source === "server" || e.source === "json" && mode === "json");
  // the field an error is about, to link to: "tasks.2.depends_on" -> the third task's dependencies
  const fieldFor = (path: string): string => {
    if (mode === "json") return "wf-json";
    const m = /^tasks\.(\d+)(?:\.([a-z_]+)(?:\.([a-z_]+))?)?/.exec(path);
    const t = m ? draft.tasks[Number(m[1])] : undefined;
    if (!m || !t) return path.startsWith("labels") ? "wf-labels" : path.startsWith("description") ? "wf-description" : "wf-name";
    const field = m[2] ?? "name";
    const id = `task-${t.key}`;
    if (field === "depends_on") return `${id}-deps`;
    if (field === "timeout_s") return `${id}-timeout`;
    if (field === "retry") return `${id}-${m[3] ?? "max_attempts"}`;
    return ["name", "executor", "instrument", "params"].includes(field) ? `${id}-${field}` : `${id}-name`;
  };
  // a duplicate name still gets its own box in the preview (named as such), not merged into its namesake
  const seenNames = new Set<string>();
  const graphTasks = draft.tasks
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.name)
    .map(({ t, i }) => {
      const duplicate = seenNames.has(t.name);
      seenNames.add(t.name);
      return {
        name: duplicate ? `${t.name} (duplicate, task ${i + 1})` : t.name,
        depends_on: t.depends_on.filter((d) => !(duplicate && d === t.name)),
        executor: t.executor,
        instrument: t.instrument || null,
      };
    });

  return (
    <section aria-labelledby="builder-title" className="builder">
      <div className="page-head">
        <h1 id="builder-title">New workflow</h1>
        <div className="tabs" role="group" aria-label="Edit as">
          <button type="button" aria-pressed={mode === "form"} onClick={() => switchMode("form")}>
            Form
          </button>
          <button type="button" aria-pressed={mode === "json"} onClick={() => switchMode("json")}>
            JSON document
          </button>
        </div>
      </div>
      {schemaError && (
        <p className="banner banner-err" role="alert">
          Could not load the workflow schema: {schemaError}
        </p>
      )}
      {banner && (
        <p className="banner" role="status">
          {banner}
        </p>
      )}
      {summaryErrors.length > 0 && (
        <div className="banner banner-err error-summary" role="alert" tabIndex={-1} ref={summary} data-errors={summaryErrors.length}>
          <strong>
            {summaryErrors.length} problem{summaryErrors.length === 1 ? "" : "s"} to fix before sending
            {server && server.doc === docKey ? " (the server's answer included)" : ""}:
          </strong>
          <ul>
            {summaryErrors.map((e, i) => {
              const target = fieldFor(e.path);
              return (
                <li key={i}>
                  <a
                    href={`#${target}`}
                    onClick={(ev) => {
                      ev.preventDefault();
                      const el = document.getElementById(target);
                      el?.scrollIntoView?.({ block: "center" });
                      (el?.matches("fieldset") ? el.querySelector<HTMLElement>("input, select, textarea") : el)?.focus({ preventScroll: true });
                    }}
                  >
                    {e.path ? <code>{e.path}</code> : null} {e.message}
                  </a>
                </li>
              );
            })}
          </ul>
        </div>
      )}

      {mode === "form" ? (
        <div className="builder-grid">
          <div className="builder-form">
            <div className="card">
              <div className="field">
                <label htmlFor="wf-name">Workflow name</label>
                <input
                  id="wf-name"
                  value={draft.name}
                  onChange={(e) => setDraft({ ...draft, name: e.target.value })}
                  onBlur={() => touch("name")}
                  placeholder="e.g. Assay of batch B-1042"
                  {...described("wf-name", nameErrors)}
                />
                <FieldErrors id="wf-name" errors={nameErrors} />
              </div>
              <div className="grid-2">
                <div className="field">
                  <label htmlFor="wf-description">Description</label>
                  <textarea id="wf-description" rows={2} value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.target.value })} />
                </div>
                <div className="field">
                  <label htmlFor="wf-labels">Labels (key=value, one a line)</label>
                  <textarea
                    id="wf-labels"
                    rows={2}
                    value={draft.labelsText}
                    spellCheck={false}
                    onChange={(e) => setDraft({ ...draft, labelsText: e.target.value })}
                    onBlur={() => touch("labels")}
                    {...described("wf-labels", labelErrors)}
                  />
                  <FieldErrors id="wf-labels" errors={labelErrors} />
                </div>
              </div>
              <FieldErrors id="wf-tasks" errors={shown("tasks") ? errorsAt(errors, "tasks") : []} />
            </div>
            {draft.tasks.map((t, i) => (
              <TaskEditor
                key={t.key}
                task={t}
                index={i}
                all={draft.tasks}
                registry={registry}
                errors={errors}
                shown={shown}
                touch={touch}
                update={update}
                rename={rename}
                remove={remove}
                move={move}
              />
            ))}
            <div className="row">
              <button type="button" onClick={addTask}>
                + Add task
              </button>
              <button
                type="button"
                className="link"
                onClick={() => {
                  setDraft(fromDocument(EXAMPLE));
                  setTouched(new Set());
                  setSubmitted(false);
                }}
              >
                Start from an example
              </button>
            </div>
          </div>
          <aside className="builder-preview card" aria-label="Preview">
            <h2>Preview</h2>
            <Dag tasks={graphTasks} label="Preview of the task graph" fit vertical />
          </aside>
        </div>
      ) : (
        <div className="card">
          <div className="field">
            <label htmlFor="wf-json">Workflow document (JSON)</label>
            <textarea
              id="wf-json"
              className="code"
              rows={22}
              spellCheck={false}
              value={jsonText}
              onChange={(e) => setJsonText(e.target.value)}
              {...described("wf-json", docErrors)}
            />
            <FieldErrors id="wf-json" errors={docErrors} />
          </div>
          <div className="row">
            <div className="field inline">
              <label htmlFor="wf-upload">Upload a JSON file</label>
              <input id="wf-upload" type="file" accept="application/json,.json" onChange={(e) => void onUpload(e.target.files?.[0])} />
            </div>
            <button type="button" onClick={() => switchMode("form")}>
              Edit in the form
            </button>
          </div>
        </div>
      )}
      <div className="submit-bar">
        {schema && errors.length > 0 ? (
          <button type="button" className="link text-bad" onClick={() => (setShowAll(true), showSummary())} data-validity="invalid">
            {errors.length} problem{errors.length === 1 ? "" : "s"}: show
          </button>
        ) : (
          <span className="text-ok" aria-live="polite" data-validity={schema ? "valid" : "loading"}>
            {schema ? "Valid against the workflow schema" : "Loading the schema…"}
          </span>
        )}
        <button type="button" className="primary" onClick={() => void submit()} disabled={sending}>
          {sending ? "Submitting…" : "Submit workflow"}
        </button>
      </div>
    </section>
  );
}
