import pg from "pg";

/*
 * LISTEN that survives the database going away. postgres.js's `sql.listen` re-listens once
 * when its connection closes and gives up silently if that attempt fails (a database still
 * restarting), after which notifications never arrive again; node-postgres clients emit an
 * 'error' event that kills the process when nobody listens for it. This one connection has
 * an error listener, reconnects with a backoff capped at 2 s for as long as it takes, and calls
 * `onReconnect` after every reconnection: notifications sent meanwhile are lost, so the
 * caller catches up (reloads, forgets caches, wakes consumers).
 */

export type Listener = { close(): Promise<void>; readonly connected: boolean; readonly reconnections: number };

export async function listenForever(
  url: string,
  channels: Record<string, (payload: string) => void>,
  opts: { name: string; onReconnect?: () => void; log?: (message: string) => void } = { name: "steward-listen" },
): Promise<Listener> {
  const log = opts.log ?? ((m: string) => console.error(m));
  let client: pg.Client | null = null;
  let closed = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | null = null;
  let reconnections = 0;
  let everConnected = false;

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: url, application_name: opts.name, connectionTimeoutMillis: 5000, keepAlive: true });
    // Before connect(): an error on this socket must never be an unhandled 'error' event.
    c.on("error", (err) => {
      log(`[${opts.name}] connection lost: ${err.message}`);
      lost(c);
    });
    c.on("end", () => lost(c));
    c.on("notification", (n) => {
      const fn = n.channel in channels ? channels[n.channel] : undefined;
      if (!fn) return;
      try {
        fn(n.payload ?? "");
      } catch (err) {
        log(`[${opts.name}] handler for ${n.channel} failed: ${(err as Error).message}`);
      }
    });
    try {
      await c.connect();
      for (const ch of Object.keys(channels)) await c.query(`listen "${ch.replaceAll('"', '""')}"`);
    } catch (err) {
      c.removeAllListeners("end");
      await c.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    attempt = 0;
    if (everConnected) {
      reconnections++;
      log(`[${opts.name}] listening again`);
      opts.onReconnect?.();
    }
    everConnected = true;
  }

  function lost(c: pg.Client) {
    if (client !== c) return;
    client = null;
    c.removeAllListeners("end");
    void c.end().catch(() => undefined);
    schedule();
  }

  function schedule() {
    if (closed || timer) return;
    const delay = Math.min(2000, 250 * 2 ** attempt++) * (0.75 + Math.random() / 2);
    timer = setTimeout(() => {
      timer = null;
      connect().catch((err: unknown) => {
        if (attempt === 1 || attempt % 10 === 0) log(`[${opts.name}] cannot listen yet: ${(err as Error).message}`);
        schedule();
      });
    }, delay);
    timer.unref();
  }

  // The first connection is awaited (the caller needs the database to start at all), retried on failure.
  for (;;) {
    try {
      await connect();
      break;
    } catch (err) {
      if (attempt++ >= 20) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }

  return {
    get connected() {
      return client !== null;
    },
    get reconnections() {
      return reconnections;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      if (c) {
        c.removeAllListeners("end");
        await c.end().catch(() => undefined);
      }
    },
  };
}
