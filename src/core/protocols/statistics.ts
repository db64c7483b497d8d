/**
 * Which statistics an experiment's results table uses by default: the paper's (Student's t-test, CI np.std x 2.262)
 * for the experiments of presets that reproduce it, Welch's t-test and the Student-t CI elsewhere.
 */
import { PRESETS } from '../presets/presets';
import type { ResultsStatistics } from '../results/model';

export function presetStatistics(experiment: string): ResultsStatistics {
  return PRESETS.find(p => p.experiment === experiment)?.statistics ?? 'welch';
}

/** `--statistics` / setting value: 'auto' follows the preset; 'published' or 'welch' apply to every experiment. */
export function statisticsChooser(choice: 'auto' | ResultsStatistics): (experiment: string) => ResultsStatistics {
  return choice === 'auto' ? presetStatistics : () => choice;
}
