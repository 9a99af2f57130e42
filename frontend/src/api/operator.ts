// Who is acting, for the audit trail: sent as X-LAF-User (the API records
// `user:<name>`; there is no authentication yet, see the README).
const KEY = "laf.operator";

export function operatorName(): string {
  try {
    return localStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

export function setOperatorName(name: string): void {
  try {
    if (name.trim()) localStorage.setItem(KEY, name.trim());
    else localStorage.removeItem(KEY);
  } catch {
    /* storage unavailable: the name is not remembered */
  }
}

export function operatorHeaders(): Record<string, string> {
  const name = operatorName();
  return name ? { "X-LAF-User": name } : {};
}
