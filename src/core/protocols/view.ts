/** The grid editor's view of an experiment's protocol (src/shared/protocol.ts GridProtocolView). */
import type { Preset } from '../presets/schema';
import type { GridProtocolView } from '../../shared/protocol';
import { presetProtocol } from './report';

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Deviations and documented differences of a preset's fine-tunes; null when it has no fine-tune. */
export function gridProtocolView(preset: Preset): GridProtocolView | null {
  if (!preset.grids.some(g => g.models.some(m => m.kind === 'finetune'))) return null;
  const r = presetProtocol(preset);
  return {
    deviations: r.elements.filter(e => e.deviation).map(e => ({ element: e.element, scope: e.scope ?? '', ours: text(e.ours), published: text(e.published), source: e.source })),
    documented: r.elements.filter(e => e.documented).map(e => ({ element: e.element, scope: e.scope ?? '', note: e.documented! })),
  };
}
