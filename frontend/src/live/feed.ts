// Live updates: Server-Sent Events from /api/events, falling back to polling
// when the stream errors (and trying the stream again later). Events are hints:
// on (re)connect and on `overflow` the view re-reads the API (`resync`).
import { INSTRUMENT_STATUSES, TASK_STATUSES, WORKFLOW_STATUSES, type LiveEvent } from "../api/types";

export type FeedMode = "connecting" | "live" | "polling" | "stopped";

/** The event types the API sends: `<kind>.<status>` for each generated state, and
 * `message` (an event without a name). EventSource only delivers named events to
 * listeners of that name, so each is listed. */
export const EVENT_TYPES: readonly (LiveEvent["type"] | "message")[] = [
  ...WORKFLOW_STATUSES.map((s) => `workflow.${s}` as const),
  ...TASK_STATUSES.map((s) => `task.${s}` as const),
  ...INSTRUMENT_STATUSES.map((s) => `instrument.${s}` as const),
  "message",
];

export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
  onerror: ((event: Event) => void) | null;
}

export interface FeedOptions {
  url: string;
  onEvent: (event: LiveEvent) => void;
  /** re-read everything (after connecting, after an overflow, on each poll) */
  resync: () => void | Promise<void>;
  onMode?: (mode: FeedMode) => void;
  pollMs?: number;
  /** first delay before trying the stream again; doubles up to maxRetryMs */
  retryMs?: number;
  maxRetryMs?: number;
  createEventSource?: (url: string) => EventSourceLike;
  timers?: {
    setTimeout: (fn: () => void, ms: number) => unknown;
    clearTimeout: (id: unknown) => void;
    setInterval: (fn: () => void, ms: number) => unknown;
    clearInterval: (id: unknown) => void;
  };
}

export class LiveFeed {
  mode: FeedMode = "stopped";
  private source: EventSourceLike | null = null;
  private pollTimer: unknown = null;
  private retryTimer: unknown = null;
  private retryDelay: number;
  private readonly o: Required<Omit<FeedOptions, "onMode">> & Pick<FeedOptions, "onMode">;

  constructor(options: FeedOptions) {
    this.o = {
      pollMs: 2000,
      retryMs: 3000,
      maxRetryMs: 30000,
      createEventSource: (url) => new EventSource(url) as unknown as EventSourceLike,
      timers: {
        setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
        clearTimeout: (id) => globalThis.clearTimeout(id as number),
        setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
        clearInterval: (id) => globalThis.clearInterval(id as number),
      },
      ...options,
    };
    this.retryDelay = this.o.retryMs;
  }

  start(): void {
    if (this.mode !== "stopped") return;
    this.connect();
  }

  stop(): void {
    this.closeSource();
    this.stopPolling();
    if (this.retryTimer !== null) this.o.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setMode("stopped");
  }

  private setMode(mode: FeedMode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.o.onMode?.(mode);
  }

  private connect() {
    this.retryTimer = null;
    if (this.mode !== "polling") this.setMode("connecting");
    let source: EventSourceLike;
    try {
      source = this.o.createEventSource(this.o.url);
    } catch {
      this.fallBack();
      return;
    }
    this.source = source;
    source.addEventListener("ready", () => {
      if (this.source !== source) return;
      this.stopPolling();
      this.retryDelay = this.o.retryMs;
      this.setMode("live");
      void this.o.resync();
    });
    source.addEventListener("overflow", () => {
      if (this.source === source) void this.o.resync();
    });
    const deliver = (message: MessageEvent) => {
      if (this.source !== source) return;
      let event: LiveEvent;
      try {
        event = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (event && typeof event.type === "string") this.o.onEvent(event);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, deliver);
    source.onerror = () => {
      if (this.source === source) this.fallBack();
    };
  }

  private closeSource() {
    if (this.source) {
      this.source.onerror = null;
      this.source.close();
      this.source = null;
    }
  }

  private stopPolling() {
    if (this.pollTimer !== null) this.o.timers.clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  /** The stream failed: poll the API until a new stream says `ready`. */
  private fallBack() {
    this.closeSource();
    if (this.pollTimer === null) {
      this.pollTimer = this.o.timers.setInterval(() => void this.o.resync(), this.o.pollMs);
      void this.o.resync();
    }
    this.setMode("polling");
    if (this.retryTimer === null) {
      const delay = this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, this.o.maxRetryMs);
      this.retryTimer = this.o.timers.setTimeout(() => this.connect(), delay);
    }
  }
}
