import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveFeed, type EventSourceLike } from "./feed";

class FakeSource implements EventSourceLike {
  static all: FakeSource[] = [];
  readyState = 0;
  closed = false;
  onerror: ((e: Event) => void) | null = null;
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  constructor(public url: string) {
    FakeSource.all.push(this);
  }
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, data: unknown = {}) {
    for (const fn of this.listeners.get(type) ?? []) fn(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
  fail() {
    this.onerror?.(new Event("error"));
  }
}

describe("LiveFeed: SSE, with polling while the stream is down", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSource.all = [];
  });
  afterEach(() => vi.useRealTimers());

  function feed() {
    const events: unknown[] = [];
    const modes: string[] = [];
    const resync = vi.fn();
    const f = new LiveFeed({
      url: "/api/events",
      onEvent: (e) => events.push(e),
      resync,
      onMode: (m) => modes.push(m),
      pollMs: 1000,
      retryMs: 5000,
      maxRetryMs: 20000,
      createEventSource: (url) => new FakeSource(url),
    });
    return { f, events, modes, resync };
  }

  it("goes live on `ready`, re-reads once, and delivers named events", () => {
    const { f, events, modes, resync } = feed();
    f.start();
    expect(modes).toEqual(["connecting"]);
    FakeSource.all[0].emit("ready", { connected: true });
    expect(modes).toEqual(["connecting", "live"]);
    expect(resync).toHaveBeenCalledTimes(1);
    FakeSource.all[0].emit("task.succeeded", { type: "task.succeeded", workflow_id: "w", data: { status: "succeeded", name: "a" } });
    FakeSource.all[0].emit("workflow.running", { type: "workflow.running", workflow_id: "w", data: { status: "running" } });
    expect(events).toHaveLength(2);
    FakeSource.all[0].emit("overflow");
    expect(resync).toHaveBeenCalledTimes(2);
    f.stop();
    expect(FakeSource.all[0].closed).toBe(true);
  });

  it("polls while the stream is down, and stops polling once a new stream is ready", () => {
    const { f, modes, resync } = feed();
    f.start();
    FakeSource.all[0].emit("ready");
    resync.mockClear();
    FakeSource.all[0].fail();
    expect(FakeSource.all[0].closed).toBe(true);
    expect(modes.at(-1)).toBe("polling");
    expect(resync).toHaveBeenCalledTimes(1); // at once
    vi.advanceTimersByTime(3000);
    expect(resync).toHaveBeenCalledTimes(4); // and every pollMs
    vi.advanceTimersByTime(2000); // retryMs: a new stream
    expect(FakeSource.all).toHaveLength(2);
    FakeSource.all[1].emit("ready");
    expect(modes.at(-1)).toBe("live");
    const calls = resync.mock.calls.length;
    vi.advanceTimersByTime(10000);
    expect(resync.mock.calls.length).toBe(calls); // no more polling
    f.stop();
  });

  it("backs off between reconnects while the stream keeps failing, polling all along", () => {
    const { f, resync } = feed();
    f.start();
    FakeSource.all[0].fail();
    vi.advanceTimersByTime(5000);
    expect(FakeSource.all).toHaveLength(2);
    FakeSource.all[1].fail();
    vi.advanceTimersByTime(9999);
    expect(FakeSource.all).toHaveLength(2); // 10 s this time
    vi.advanceTimersByTime(1);
    expect(FakeSource.all).toHaveLength(3);
    expect(resync.mock.calls.length).toBeGreaterThanOrEqual(15);
    f.stop();
    const after = resync.mock.calls.length;
    vi.advanceTimersByTime(60000);
    expect(resync.mock.calls.length).toBe(after);
    expect(FakeSource.all).toHaveLength(3);
  });

  it("falls back to polling when EventSource is not available at all", () => {
    const resync = vi.fn();
    const f = new LiveFeed({
      url: "/api/events",
      onEvent: () => {},
      resync,
      pollMs: 1000,
      createEventSource: () => {
        throw new Error("no EventSource");
      },
    });
    f.start();
    expect(f.mode).toBe("polling");
    vi.advanceTimersByTime(2000);
    expect(resync).toHaveBeenCalledTimes(3);
    f.stop();
  });

  it("ignores events of a stream it has given up", () => {
    const { f, events } = feed();
    f.start();
    const old = FakeSource.all[0];
    old.fail();
    old.emit("task.running", { type: "task.running" });
    expect(events).toEqual([]);
    f.stop();
  });
});
