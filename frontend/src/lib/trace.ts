// A workflow's trace in the trace viewer (LAF_TRACE_URL_TEMPLATE, from GET /api/auth/me):
// `{trace_id}` replaced by the workflow's trace id. Only http(s) templates make a link.

/** The link, or null when no viewer is configured (or the template is not a web address). */
export function traceUrl(template: string | undefined, traceId: string): string | null {
  if (!template || !/^https?:\/\//i.test(template) || !template.includes("{trace_id}")) return null;
  return template.replaceAll("{trace_id}", encodeURIComponent(traceId));
}
