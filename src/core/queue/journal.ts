/**
 * The run queue's journal, `.scwb/queue.journal`: what changed since the snapshot (queue.json) was written, one
 * JSON line per update. The first line names the snapshot it extends (`{"base": <sha-256 of queue.json>, "token":
 * <random>}`); a journal whose base is not the snapshot on disk (left by a compaction killed between writing the
 * snapshot and removing the journal, or by a hand edit of queue.json) is ignored. Every later line is one whole
 * update: `{"set": [items], "remove": [ids], "order": [ids], "meta": {paused, executor}}` (each part optional),
 * applied all or nothing. A last line without its newline is a write cut short (a killed writer) and is ignored.
 *
 * Readers and writers apply a line with `applyEntry` only, so every process reaches the same queue.
 */
import { z } from 'zod';
import { OwnerSchema } from '../runs/schema';
import { QueueItemSchema, type QueueFile, type QueueItem } from './schema';

export const JOURNAL_FILE = 'queue.journal';

const HeaderSchema = z.object({ base: z.string(), token: z.string() }).strict();
const EntrySchema = z.object({
  set: z.array(z.unknown()).optional(),
  remove: z.array(z.string()).optional(),
  order: z.array(z.string()).optional(),
  meta: z.object({ paused: z.boolean(), executor: OwnerSchema.nullable() }).strict().optional(),
}).strict();
export type JournalEntry = { set?: QueueItem[]; remove?: string[]; order?: string[]; meta?: Pick<QueueFile, 'paused' | 'executor'> };
export type JournalHeader = z.infer<typeof HeaderSchema>;

/** The queue in memory with each item's canonical JSON (to tell changed items from unchanged ones). */
export interface QueueState {
  queue: QueueFile;
  json: Map<string, string>;
}

export class JournalLineError extends Error {}

export function stateOf(queue: QueueFile): QueueState {
  return { queue, json: new Map(queue.items.map(it => [it.id, JSON.stringify(it)])) };
}

export function parseHeader(line: string): JournalHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new JournalLineError('its first line is not JSON');
  }
  const r = HeaderSchema.safeParse(raw);
  if (!r.success) throw new JournalLineError('its first line is not a journal header');
  return r.data;
}

/**
 * One update line, validated: items must be whole, known-field-only queue items (`unknownField` names what parsing
 * would drop, so nothing is lost silently).
 */
export function parseEntry(line: string, unknownField: (raw: unknown, parsed: unknown) => string | null): JournalEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new JournalLineError('not valid JSON');
  }
  const r = EntrySchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new JournalLineError(`${first.path.join('.') || '(line)'}: ${first.message}`);
  }
  const entry: JournalEntry = { remove: r.data.remove, order: r.data.order, meta: r.data.meta };
  if (r.data.set) {
    entry.set = r.data.set.map((x, i) => {
      const p = QueueItemSchema.safeParse(x);
      if (!p.success) {
        const first = p.error.issues[0];
        throw new JournalLineError(`set.${i}.${first.path.join('.')}: ${first.message}`);
      }
      const extra = unknownField(x, p.data);
      if (extra) throw new JournalLineError(`set.${i}.${extra}: unknown field`);
      return p.data;
    });
  }
  return entry;
}

/**
 * Applies one update to `state` in place: removals, then whole items set (replaced where their id is, appended
 * otherwise), then the order (when given it must name every item once), then paused/executor. Checks everything
 * before changing anything, so a refused line leaves `state` as it was.
 */
export function applyEntry(state: QueueState, e: JournalEntry): void {
  const removed = new Set(e.remove ?? []);
  const kept = removed.size ? state.queue.items.filter(it => !removed.has(it.id)) : state.queue.items.slice();
  const at = new Map(kept.map((it, i) => [it.id, i]));
  for (const it of e.set ?? []) {
    const i = at.get(it.id);
    if (i === undefined) {
      at.set(it.id, kept.length);
      kept.push(it);
    } else kept[i] = it;
  }
  let items = kept;
  if (e.order) {
    if (e.order.length !== kept.length || new Set(e.order).size !== kept.length || e.order.some(id => !at.has(id))) {
      throw new JournalLineError('its order does not name every item exactly once');
    }
    items = e.order.map(id => kept[at.get(id)!]);
  }
  for (const id of removed) state.json.delete(id);
  for (const it of e.set ?? []) state.json.set(it.id, JSON.stringify(it));
  state.queue.items = items;
  if (e.meta) {
    state.queue.paused = e.meta.paused;
    state.queue.executor = e.meta.executor;
  }
}

/**
 * What turns `before` into `after` (a validated queue with unique ids): one entry, or null when nothing changed.
 * Unchanged items (same canonical JSON) are not written again.
 */
export function diffQueue(before: QueueState, after: QueueFile): JournalEntry | null {
  const ids = new Set(after.items.map(it => it.id));
  const remove = before.queue.items.filter(it => !ids.has(it.id)).map(it => it.id);
  const set = after.items.filter(it => before.json.get(it.id) !== JSON.stringify(it));
  // the order applyEntry would give without an explicit order: survivors in place, new items at the end
  const known = new Set(before.json.keys());
  const implied = [...before.queue.items.filter(it => ids.has(it.id)).map(it => it.id), ...after.items.filter(it => !known.has(it.id)).map(it => it.id)];
  const orderChanged = implied.some((id, i) => after.items[i].id !== id);
  const metaChanged = after.paused !== before.queue.paused || JSON.stringify(after.executor) !== JSON.stringify(before.queue.executor);
  if (!remove.length && !set.length && !orderChanged && !metaChanged) return null;
  const e: JournalEntry = {};
  if (set.length) e.set = set;
  if (remove.length) e.remove = remove;
  if (orderChanged) e.order = after.items.map(it => it.id);
  if (metaChanged) e.meta = { paused: after.paused, executor: after.executor };
  return e;
}
