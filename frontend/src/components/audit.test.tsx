import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { HistoryEntry, Signature } from "../api/types";
import { whenUnauthorized } from "../api/client";
import { chainMarks } from "../lib/chain";
import { formatTime } from "../lib/format";
import { mockFetch } from "../test/fetchMock";
import { ChainBanner } from "./ChainCheck";
import { RecordDownloads } from "./RecordDownloads";
import { ReleaseBadge } from "./ReleaseBadge";
import { SignatureList } from "./SignatureList";
import { SignDialog } from "./SignDialog";

afterEach(() => vi.unstubAllGlobals());

const signature = (extra: Partial<Signature> = {}): Signature => ({
  id: "s1",
  signer: "rita",
  full_name: "Rita Reviewer",
  meaning: "reviewed",
  comment: null,
  at: "2026-12-02T10:15:00Z",
  results_sha256: "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
  stale: false,
  ...extra,
});

describe("ReleaseBadge", () => {
  it("names the release state in words, not by colour alone", () => {
    const { rerender } = render(<ReleaseBadge release="released" />);
    expect(screen.getByText(/released/).getAttribute("data-release")).toBe("released");
    expect(screen.getByText(/released/).textContent).toBe("✓ released");
    rerender(<ReleaseBadge release="awaiting approval" />);
    expect(screen.getByText("awaiting approval").className).toContain("release-approval");
    rerender(<ReleaseBadge release={undefined} />);
    expect(screen.queryByText(/awaiting|released/)).toBeNull();
  });
});

describe("SignatureList", () => {
  it("shows the signer's full name, the meaning, the time in the app's format and a stale mark", () => {
    render(
      <SignatureList
        signatures={[signature(), signature({ id: "s2", signer: "abe", full_name: "Abe Approver", meaning: "approved", comment: "fine", stale: true })]}
      />,
    );
    const [review, approval] = screen.getAllByRole("listitem");
    expect(review.textContent).toContain("Reviewed by Rita Reviewer (rita)");
    expect(review.textContent).toContain(formatTime("2026-12-02T10:15:00Z"));
    expect(within(review).queryByText(/stale/)).toBeNull();
    expect(approval.getAttribute("data-stale")).toBe("true");
    expect(within(approval).getByText("⚠ stale")).toBeTruthy();
    expect(approval.textContent).toContain("results changed since: no longer counts");
    expect(approval.textContent).toContain("“fine”");
  });

  it("says when nobody has signed", () => {
    render(<SignatureList signatures={[]} />);
    expect(screen.getByText("Not signed yet.")).toBeTruthy();
  });
});

describe("SignDialog", () => {
  function open(onSigned = vi.fn()) {
    render(<SignDialog workflowId="w1" workflowName="assay" resultsSha256={signature().results_sha256} onClose={() => {}} onSigned={onSigned} />);
    return screen.getByRole("dialog", { name: "Sign assay" });
  }

  it("asks for the password before sending, and keeps the dialog open on a wrong one (401)", async () => {
    const user = userEvent.setup();
    const ended = vi.fn();
    whenUnauthorized(ended);
    const calls = mockFetch(({ url }) => (url === "/api/workflows/w1/signatures" ? { status: 401, body: { detail: "wrong password" } } : undefined));
    const dialog = open();
    await user.click(within(dialog).getByRole("button", { name: "Sign as reviewed" }));
    expect(within(dialog).getByText("Your password is required to sign.")).toBeTruthy();
    expect(calls).toHaveLength(0);
    await user.click(within(dialog).getByRole("radio", { name: /Approved/ }));
    await user.type(within(dialog).getByLabelText("Your password"), "not-it");
    await user.type(within(dialog).getByLabelText("Comment (optional)"), "looks right");
    await user.click(within(dialog).getByRole("button", { name: "Sign as approved" }));
    expect((await within(dialog).findByRole("alert")).textContent).toBe("Refused (HTTP 401): wrong password");
    expect(calls).toEqual([{ method: "POST", url: "/api/workflows/w1/signatures", body: { meaning: "approved", password: "not-it", comment: "looks right" } }]);
    // typed again, from an empty field; the session did not end
    const password = within(dialog).getByLabelText("Your password");
    expect(password).toHaveProperty("value", "");
    expect(document.activeElement).toBe(password);
    expect(ended).not.toHaveBeenCalled();
    expect(screen.getByRole("dialog")).toBe(dialog);
  });

  it.each([
    [403, "approve needs an earlier review by someone else"],
    [403, "you submitted or acted on this workflow as operator"],
    [409, "the workflow has not finished"],
    [429, "too many failed passwords: locked for 300 s"],
  ])("shows a %i's detail in the dialog", async (status, detail) => {
    const user = userEvent.setup();
    mockFetch(() => ({ status, body: { detail } }));
    const onSigned = vi.fn();
    const dialog = open(onSigned);
    await user.type(within(dialog).getByLabelText("Your password"), "right");
    await user.click(within(dialog).getByRole("button", { name: /^Sign as/ }));
    expect((await within(dialog).findByRole("alert")).textContent).toBe(`Refused (HTTP ${status}): ${detail}`);
    expect(within(dialog).getByLabelText("Your password")).toHaveProperty("value", "right");
    expect(onSigned).not.toHaveBeenCalled();
  });

  it("hands the signature over on a 201, without a comment when none was typed", async () => {
    const user = userEvent.setup();
    const calls = mockFetch(() => ({ status: 201, body: signature() }));
    const onSigned = vi.fn();
    const dialog = open(onSigned);
    await user.type(within(dialog).getByLabelText("Your password"), "right");
    await user.keyboard("{Enter}");
    await waitFor(() => expect(onSigned).toHaveBeenCalledWith(signature()));
    expect(calls[0].body).toEqual({ meaning: "reviewed", password: "right" });
  });
});

describe("ChainBanner and the rows' marks", () => {
  const row = (id: number, seq: number | null, hash: string | null): HistoryEntry => ({
    id,
    seq,
    hash,
    prev_hash: null,
    task_id: null,
    task_name: null,
    attempt: null,
    from_status: null,
    to_status: "pending",
    actor: "user:ann",
    reason: null,
    at: "2026-12-02T10:00:00Z",
  });
  const history = [row(1, null, null), row(5, 1, "aa"), row(7, 2, "bb"), row(9, 3, "cc"), { ...row(10, 1, "dd"), task_id: "t1" }];

  it("says the chain is verified, with its length", () => {
    render(<ChainBanner check={{ state: "done", result: { ok: true, rows: 3, checkpoint: null } }} />);
    expect(screen.getByRole("status").textContent).toBe("✓ Chain verified (3 rows)");
    expect([...chainMarks(history, { ok: true, rows: 3, checkpoint: null }).values()]).toEqual(["unchained", "verified", "verified", "verified", "verified"]);
  });

  it("names the row where it broke and why", () => {
    const broken = { ok: false as const, rows: 3, broken_at: { history_id: 7, workflow_id: "w1", reason: "hash does not match the row" } };
    render(<ChainBanner check={{ state: "done", result: broken }} />);
    expect(screen.getByRole("alert").textContent).toBe("✗ Broken at row #7: hash does not match the row");
    // before the break in its chain: proven; after it, or in a chain the check did not reach: not
    expect(Object.fromEntries(chainMarks(history, broken))).toEqual({ 1: "unchained", 5: "verified", 7: "broken", 9: "unverified", 10: "unverified" });
  });

  it("says where a break outside the rows is (a checkpoint)", () => {
    render(<ChainBanner check={{ state: "done", result: { ok: false, rows: 0, broken_at: { history_id: null, workflow_id: null, reason: "checkpoint #3 is not signed by LAF's key" } } }} />);
    expect(screen.getByRole("alert").textContent).toBe("✗ Broken: checkpoint #3 is not signed by LAF's key");
  });

  it("says when the check itself failed", () => {
    render(<ChainBanner check={{ state: "failed", error: { status: 403, message: "needs the admin role" } }} />);
    expect(screen.getByRole("alert").textContent).toBe("Could not check the hash chain: needs the admin role");
  });
});

describe("RecordDownloads", () => {
  it("fetches the PDF with the session's header and saves it under the server's file name", async () => {
    const user = userEvent.setup();
    const seen: { url: string; accept: string | null; requested: string | null }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input, init);
        seen.push({ url: request.url, accept: request.headers.get("Accept"), requested: request.headers.get("X-Requested-With") });
        return new Response("%PDF-1.7", { status: 200, headers: { "Content-Type": "application/pdf", "Content-Disposition": 'attachment; filename="assay-record.pdf"' } });
      }),
    );
    const created = vi.fn((_: Blob) => "blob:record");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }));
    const clicked: string[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    render(<RecordDownloads workflowId="w1" />);
    await user.click(screen.getByRole("button", { name: "Batch record (PDF)" }));
    await waitFor(() => expect(clicked).toEqual(["assay-record.pdf"]));
    expect(seen).toEqual([{ url: "http://localhost:3000/api/workflows/w1/record", accept: "application/pdf", requested: "laf" }]);
    expect(await created.mock.calls[0][0].text()).toBe("%PDF-1.7");
    click.mockRestore();
  });

  it("shows why a download failed", async () => {
    const user = userEvent.setup();
    mockFetch(() => ({ status: 403, body: { detail: "needs the viewer role" } }));
    render(<RecordDownloads workflowId="w1" />);
    await user.click(screen.getByRole("button", { name: "Record (JSON)" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Could not download Record (JSON): needs the viewer role (HTTP 403)");
  });
});
