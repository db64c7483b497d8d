/** The protocol choices (docs/protocols.md) an object carries, e.g. a queue item's spec or parsed CLI flags. */
import { PROTOCOL_CHOICE_KEYS, type ProtocolChoices } from '../runs/schema';

/** Only the keys set to a value: absent and null both mean the published value. */
export function protocolChoicesOf(source: Partial<Record<keyof ProtocolChoices, unknown>>): ProtocolChoices {
  const out: Record<string, unknown> = {};
  for (const k of PROTOCOL_CHOICE_KEYS) {
    const v = source[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out as ProtocolChoices;
}
