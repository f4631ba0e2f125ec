// Where a follower resumes, decided by the active from both epoch histories.
//
// Every epoch has exactly one writer (S1) and opens with a marker row nobody
// removes, so a store's history — which epoch wrote from which sequence
// number on — is the same on every store that holds those writes. Two stores
// that agree on which epoch wrote sequence number s hold the same writes up
// to s (the log-matching property of Raft). The follower resumes above the
// longest prefix both agree on; whatever it holds above that was written
// under an epoch the active never saw: it goes to the divergence table.
import type { EpochStart } from "../storage.js";

export interface History {
  lastSeq: number;
  epochs: EpochStart[];
}

export interface MatchResult {
  /** the follower holds the active's writes up to here */
  keep: number;
  /** the follower holds writes above `keep` that the active never saw */
  diverged: boolean;
}

/** the end of segment i of a history (its last sequence number) */
function segmentEnd(h: History, i: number): number {
  return i + 1 < h.epochs.length ? h.epochs[i + 1].firstSeq - 1 : h.lastSeq;
}

export function matchPoint(active: History, follower: History): MatchResult {
  if (follower.lastSeq === 0) return { keep: 0, diverged: false };
  let keep = 0;
  let agreed = 0;
  for (let i = 0; i < follower.epochs.length && i < active.epochs.length; i++) {
    const a = active.epochs[i];
    const f = follower.epochs[i];
    if (a.epoch !== f.epoch || a.firstSeq !== f.firstSeq) break;
    agreed = i + 1;
    keep = Math.min(segmentEnd(active, i), segmentEnd(follower, i));
    // a segment both hold but that ends at different points: the shorter side
    // stops there; if it is the follower's that runs on, it diverges there
    if (segmentEnd(active, i) !== segmentEnd(follower, i)) break;
  }
  if (agreed === 0) keep = 0;
  return { keep, diverged: follower.lastSeq > keep };
}
