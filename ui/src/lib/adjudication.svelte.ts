// The adjudication queue's state, outside the screen: the records annotators labeled differently
// that no reviewer has decided, how far the reviewer got, and this session's decisions (for the
// list and for undo), kept while the reviewer visits other screens.

import type { Disagreement } from './api-types';

/** One decision made in the queue. */
export interface AdjudicationDecision {
  seq: number;
  /** `pick`: an annotator's label taken; `label`: a label of the reviewer's own. */
  how: 'pick' | 'label';
  /** The label decided on, in one line. */
  value: string;
}

const BLIND_KEY = 'finelab.adjudicate.blind';

function storedBlind(): boolean {
  try {
    return typeof localStorage !== 'undefined' && localStorage.getItem(BLIND_KEY) === '1';
  } catch {
    return false;
  }
}

export const adjudication = $state<{
  dir: string;
  /** The undecided records loaded so far, in import order. */
  records: Disagreement[];
  /** The record shown: every one before it was decided in this session. */
  index: number;
  /** Undecided records left, the one shown included (the server's count at the last load, less the decisions since). */
  remaining: number;
  loaded: boolean;
  decisions: AdjudicationDecision[];
  /** Annotators shown as "Annotator 1/2/…", not by name (remembered on this machine). */
  blind: boolean;
}>({ dir: '', records: [], index: 0, remaining: 0, loaded: false, decisions: [], blind: storedBlind() });

/** Hides or shows the annotators' names. */
export function setBlind(blind: boolean): void {
  adjudication.blind = blind;
  try {
    localStorage.setItem(BLIND_KEY, blind ? '1' : '0');
  } catch {
    /* private mode: for this session */
  }
}
