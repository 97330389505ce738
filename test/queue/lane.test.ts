import { describe, expect, it } from 'vitest';
import { createLane, type LaneLesson } from '../../src/queue/lane.js';

const MINUTE = 60_000;
const T0 = 1000 * MINUTE + 1000;

const answer = (remaining: number | null, permitted: number | null = 100): LaneLesson => ({
  rateLimit: { permitted, remaining, retryAfterMs: null },
  totalPermitted: null,
  response: true,
  mayHaveCounted: true,
  rateLimited: false,
});

describe('lane budget', () => {
  it('sends one probe until an answer arrives in the current window', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    expect(lane.gate(T0, 6)).toBe('open');
    const probe = lane.sent(T0);
    expect(lane.gate(T0, 6)).toBe('busy');
    lane.learn(probe, T0 + 5, answer(99));
    expect(lane.gate(T0 + 5, 6)).toBe('open');
    expect(lane.remainingEstimate(T0 + 5)).toBe(99);
  });

  it('counts the calls sent past the boundary, within the offset, in the next window until its first reading', () => {
    // With Katapult's clock not behind ours, a call sent 100 ms past the minute lands in its new
    // window; at a limit of 1 (no reserve) the new window's probe would be one call too many.
    const boundary = 1001 * MINUTE;
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2, windowOffsetMs: 250 });
    lane.learn(lane.sent(boundary + 100), boundary + 110, answer(0, 1));
    expect(lane.gate(boundary + 300, 6)).toBe('exhausted');
    expect(lane.gate(boundary + MINUTE + 300, 6)).toBe('open');
  });

  it('trusts the reading of the most recently sent call, whatever order the answers arrive in', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(50));
    const older = lane.sent(T0 + 2);
    const newer = lane.sent(T0 + 3);
    lane.learn(newer, T0 + 4, answer(40));
    lane.learn(older, T0 + 5, answer(45));
    expect(lane.remainingEstimate(T0 + 6)).toBe(40);
  });

  it('believes the lowest Remaining: an older call counted after the reading and answered since still counts', () => {
    for (const [late, expected] of [
      [answer(29), 29], // its own Remaining shows Katapult counted it after the reading
      [answer(null), 29], // no Remaining: it may have been
      [answer(31), 30], // counted before the reading: already in it
    ] as const) {
      const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
      lane.learn(lane.sent(T0), T0 + 1, answer(50));
      const older = lane.sent(T0 + 2);
      const reading = lane.sent(T0 + 3);
      lane.learn(reading, T0 + 4, answer(30));
      expect(lane.remainingEstimate(T0 + 5)).toBe(29);
      lane.learn(older, T0 + 6, late);
      expect(lane.remainingEstimate(T0 + 7), JSON.stringify(late.rateLimit)).toBe(expected);
    }
  });

  it('counts an answer without a figure only until a later call\'s reading includes it, and a call that got no answer not at all', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(50));
    lane.learn(lane.sent(T0 + 2), T0 + 3, answer(null));
    expect(lane.remainingEstimate(T0 + 4)).toBe(49);
    // Sent after that answer came back: Katapult had counted it, and this reading says so.
    lane.learn(lane.sent(T0 + 5), T0 + 6, answer(48));
    expect(lane.remainingEstimate(T0 + 7)).toBe(48);
    // Refused connections reached nobody.
    const refused: LaneLesson = { rateLimit: null, totalPermitted: null, response: false, mayHaveCounted: false, rateLimited: false };
    for (let i = 0; i < 20; i++) lane.learn(lane.sent(T0 + 8 + i), T0 + 9 + i, refused);
    expect(lane.remainingEstimate(T0 + 40)).toBe(48);
    // A call that timed out (or was reset, or cancelled while running) may have been counted.
    const timedOut: LaneLesson = { rateLimit: null, totalPermitted: null, response: false, mayHaveCounted: true, rateLimited: false };
    for (let i = 0; i < 6; i++) lane.learn(lane.sent(T0 + 41 + i), T0 + 42 + i, timedOut);
    expect(lane.remainingEstimate(T0 + 50)).toBe(48 - 6);
  });

  it('does not take an answer without the rate-limit figure as confirming a window, once Katapult has sent the figure', () => {
    const bare: LaneLesson = { rateLimit: null, totalPermitted: null, response: true, mayHaveCounted: true, rateLimited: false };
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(50));
    const next = (Math.floor(T0 / MINUTE) + 1) * MINUTE;
    expect(lane.gate(next, 6)).toBe('open');
    lane.learn(lane.sent(next), next + 1, bare);
    // Still one call at a time: this window's budget is not known yet.
    lane.sent(next + 2);
    expect(lane.gate(next + 2, 6)).toBe('busy');
    // An upstream that never sends the figure is not held to one call at a time.
    const headerless = createLane('h', { windowMs: MINUTE, budgetReserve: 2 });
    headerless.learn(headerless.sent(T0), T0 + 1, { ...bare, totalPermitted: 100 });
    headerless.sent(T0 + 2);
    expect(headerless.gate(T0 + 2, 6)).toBe('open');
  });

  it('counts calls still in flight from before the reading, and calls sent after it', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(50));
    const before = lane.sent(T0 + 2);
    const reporting = lane.sent(T0 + 3);
    lane.learn(reporting, T0 + 4, answer(30));
    lane.sent(T0 + 5);
    expect(lane.remainingEstimate(T0 + 6)).toBe(30 - 1 - 1);
    lane.learn(before, T0 + 7, answer(31));
    expect(lane.remainingEstimate(T0 + 8)).toBe(30 - 1);
  });

  it('ignores the remaining count of a call sent in an earlier window and probes the new one', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(90));
    const late = lane.sent(T0 + MINUTE - 1000 - 1);
    const boundary = T0 - 1000 + MINUTE;
    lane.learn(late, boundary + 1, answer(3));
    expect(lane.remainingEstimate(boundary + 2)).toBe(100);
    expect(lane.gate(boundary + 2, 6)).toBe('open');
    lane.sent(boundary + 2);
    expect(lane.gate(boundary + 3, 6)).toBe('busy');
  });

  it('is exhausted when the estimate minus the reserve reaches zero with nothing in flight', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(3));
    expect(lane.gate(T0 + 2, 6)).toBe('open');
    const last = lane.sent(T0 + 2);
    expect(lane.gate(T0 + 3, 6)).toBe('busy');
    lane.learn(last, T0 + 4, answer(2));
    expect(lane.gate(T0 + 5, 6)).toBe('exhausted');
  });

  it('without headers, counts its own calls against the limit a 429 taught', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    const refused = lane.sent(T0);
    lane.learn(refused, T0 + 1, { rateLimit: null, totalPermitted: 10, response: true, mayHaveCounted: true, rateLimited: true });
    const next = T0 - 1000 + MINUTE;
    const probe = lane.sent(next);
    lane.learn(probe, next + 1, { rateLimit: null, totalPermitted: null, response: true, mayHaveCounted: true, rateLimited: false });
    expect(lane.remainingEstimate(next + 2)).toBe(9);
    const more = Array.from({ length: 7 }, () => lane.sent(next + 2));
    expect(lane.gate(next + 3, 100)).toBe('busy');
    for (const ticket of more) lane.learn(ticket, next + 4, { rateLimit: null, totalPermitted: null, response: true, mayHaveCounted: true, rateLimited: false });
    expect(lane.gate(next + 5, 100)).toBe('exhausted');
  });

  it('estimates the window in which a call far back in line could be sent', () => {
    const lane = createLane('k', { windowMs: MINUTE, budgetReserve: 2 });
    lane.learn(lane.sent(T0), T0 + 1, answer(50, 22));
    // 50 - 2 = 48 left now, then 20 per window.
    const boundary = T0 - 1000 + MINUTE;
    expect(lane.estimateSendAt(47, T0 + 2)).toBe(T0 + 2);
    expect(lane.estimateSendAt(48, T0 + 2)).toBe(boundary);
    expect(lane.estimateSendAt(67, T0 + 2)).toBe(boundary);
    expect(lane.estimateSendAt(68, T0 + 2)).toBe(boundary + MINUTE);
    lane.pausedUntil = boundary + 300;
    expect(lane.estimateSendAt(0, T0 + 2)).toBe(boundary + 300);
    expect(lane.estimateSendAt(20, T0 + 2)).toBe(boundary + MINUTE);
  });
});
